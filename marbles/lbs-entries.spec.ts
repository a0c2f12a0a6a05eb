import { expect } from 'chai';
import { Observable, catchError, of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { BadEntry, RawEntry } from '../lib/codecs/lbs-message';
import { GroupMissingError } from '../lib/errors';
import type { LbsPort, TakeResult } from '../lib/port';
import { lbsEntries$ } from '../lib/sources/lbs-entries';
import type { ClientOptions, StreamAdded } from '../lib/types';
import { fakePort, messages, owned, raw, specDeps } from './support/deps';
import { attemptsOf, newTestScheduler } from './support/scheduler';

const added = (name: string, id: string, extra = {}): StreamAdded => ({ type: 'StreamAdded', payload: owned(name, id), additionalInfo: extra });
const TAKEN: TakeResult = { kind: 'taken', fence: 1 };
type Batch = readonly RawEntry[];

describe('lbsEntries$ (the LBS reader and the hand-out)', () => {
  let testScheduler: TestScheduler;
  let deadLettered: BadEntry[][];

  beforeEach(() => {
    testScheduler = newTestScheduler();
    deadLettered = [];
  });

  const source = (reads: Observable<readonly RawEntry[]>[], port: Partial<LbsPort>, options: ClientOptions = {}, recreateGroup: Observable<never> = of()) => {
    const deps = specDeps(
      testScheduler,
      fakePort({ deadLetter: (bad) => (deadLettered.push([...bad]), of(undefined)), ...port }),
      { retry: { maxRetries: 2, initialDelay: 3, maxDelay: 100 }, ...options },
    );
    const read = attemptsOf(reads);
    return { deps, entries$: lbsEntries$({ ...deps, session: { readNew: () => read }, recreateGroup }) };
  };

  it('announces every entry whose lock it took, then reads again once the batch is handed out', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const first = cold('-(b|)', { b: [raw('1-0', 's1', { k: 1 }), raw('2-0', 's2')] });
      const second = cold<Batch>('-');
      const locks = cold('-(r|)', { r: [TAKEN, TAKEN] });
      const { deps, entries$ } = source([first, second], { takeLocks: () => locks });
      expectObservable(entries$, '^----!').toBe('--(xy)', { x: added('s1', '1-0', { k: 1 }), y: added('s2', '2-0') });
      expectSubscriptions(first.subscriptions).toBe('^!');
      expectSubscriptions(locks.subscriptions).toBe('-^!');
      expectSubscriptions(second.subscriptions).toBe('--^--!');
      testScheduler.flush();
      expect(deps.ledger.holds('s1', '1-0') && deps.ledger.holds('s2', '2-0')).to.equal(true);
    });
  });

  it('reads at most the room maxStreams leaves, and waits while full until a stream is dropped', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const counts: number[] = [];
      const reads = [cold('-(b|)', { b: [raw('1-0', 's1'), raw('2-0', 's2')] }), cold('-(b|)', { b: [raw('3-0', 's3')] }), cold<Batch>('-')];
      const deps = specDeps(testScheduler, fakePort({ deadLetter: () => of(undefined), takeLocks: (entries) => cold('(r|)', { r: entries.map(() => TAKEN) }) }), { maxStreams: 2, readCount: 10 });
      const read = attemptsOf(reads);
      const entries$ = lbsEntries$({ ...deps, session: { readNew: (count) => (counts.push(count), read) }, recreateGroup: of() });
      testScheduler.schedule(() => {
        const lease = deps.ledger.get('s1');
        if (lease !== undefined) deps.ledger.drop(lease);
      }, 10);
      expectObservable(entries$, '^ 19ms !').toBe('-(xy) 6ms z', { x: added('s1', '1-0'), y: added('s2', '2-0'), z: added('s3', '3-0') });
      testScheduler.flush();
      expect(counts.slice(0, 2)).to.deep.equal([2, 1]);
    });
  });

  it('dead-letters the entries that do not decode and the duplicates of a data stream, and leaves entries held elsewhere', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const broken: RawEntry = { id: '1-0', fields: ['other', 'x'] };
      const batch = [broken, raw('2-0', 'twin'), raw('3-0', 'held'), raw('4-0', 'mine')];
      const taken: TakeResult[] = [{ kind: 'duplicate', of: '0-1' }, { kind: 'held' }, TAKEN];
      const { deps, entries$ } = source([cold('-(b|)', { b: batch }), cold('-')], { takeLocks: () => cold('-(r|)', { r: taken }) });
      expectObservable(entries$, '^----!').toBe('--x', { x: added('mine', '4-0') });
      testScheduler.flush();
      expect(deadLettered).to.deep.equal([
        [{ entry: broken, reason: 'expected the field "lbs-input", got [other]' }],
        [{ entry: batch[1], reason: 'duplicate: data stream "twin" is already handled by LBS entry 0-1' }],
      ]);
      expect(messages(deps.logs, 'warn')).to.include('a new entry is held or taken over by another consumer (late read reply?); left to it');
    });
  });

  it('retries a failed read with backoff, and counts only failures in a row (any successful read resets the count)', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const reads = [cold<Batch>('-#'), cold<Batch>('-(e|)', { e: [] }), cold<Batch>('-#'), cold<Batch>('-#'), cold<Batch>('-')];
      const { entries$ } = source(reads, {}, { retry: { maxRetries: 2, initialDelay: 3, maxDelay: 100 } });
      // fails at 1, retried after 3; an empty read at 5 resets the count; fails at 6 (retry 1, after 3) and 10 (retry 2, after 6)
      expectObservable(entries$, '^-------------------!').toBe('---------------------');
      expectSubscriptions(reads[0]!.subscriptions).toBe('^!');
      expectSubscriptions(reads[1]!.subscriptions).toBe('----^!');
      expectSubscriptions(reads[2]!.subscriptions).toBe('-----^!');
      expectSubscriptions(reads[3]!.subscriptions).toBe('---------^!');
      expectSubscriptions(reads[4]!.subscriptions).toBe('----------------^---!');
    });
  });

  it('errors with STREAM_TERMINATED once maxRetries reads in a row have failed', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const reads = [cold<Batch>('-#'), cold<Batch>('-#'), cold<Batch>('-#')];
      const { entries$ } = source(reads, {});
      // fails at 1, 5 (retried after 3) and 12 (retried after 6): two retries, then the error goes through
      expectObservable(entries$.pipe(catchError((err: { code: string; cause: unknown }) => of(`${err.code}: ${String(err.cause)}`)))).toBe('------------(t|)', {
        t: 'STREAM_TERMINATED: error',
      });
      expectSubscriptions(reads[0]!.subscriptions).toBe('^!');
      expectSubscriptions(reads[1]!.subscriptions).toBe('----^!');
      expectSubscriptions(reads[2]!.subscriptions).toBe('-----------^!');
    });
  });

  it('re-creates the consumer group before retrying a read that found it missing (NOGROUP), and only then', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const reads = [cold<Batch>('-#', undefined, new GroupMissingError('NOGROUP No such key')), cold<Batch>('-#'), cold<Batch>('-')];
      const recreate = cold<never>('-|');
      const { deps, entries$ } = source(reads, {}, {}, recreate);
      expectObservable(entries$, '^--------------!').toBe('----------------');
      expectSubscriptions(recreate.subscriptions).toBe('----^!');
      expectSubscriptions(reads[1]!.subscriptions).toBe('-----^!');
      expectSubscriptions(reads[2]!.subscriptions).toBe('------------^--!');
      testScheduler.flush();
      expect(messages(deps.logs, 'warn').filter((m) => m?.startsWith('consumer group missing'))).to.have.length(1);
    });
  });
});
