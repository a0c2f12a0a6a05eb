import { expect } from 'chai';
import { EMPTY, Observable, Subscription, of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { NotOwnerError, StreamHandedBackError } from '../lib/errors';
import { ConsumePolicy, EntryFeed, consumeEntries } from '../lib/entries/consume-entries';
import type { StreamEntry } from '../lib/entries/types';
import { attemptsOf, newTestScheduler } from './support/scheduler';

const e = (id: string, fields: Record<string, string> = {}): StreamEntry => ({ id, fields });
const policy = (overrides: Partial<ConsumePolicy> = {}): ConsumePolicy => ({ until: () => false, commitEvery: { entries: 100, ms: 50 }, readCount: 2, ...overrides });

describe('consumeEntries (the work on one stream)', () => {
  let testScheduler: TestScheduler;
  let reads: [string, number][];
  let commits: string[];
  let dead: [string, string][];
  let stop: Error | undefined;

  const feed = (batches: readonly Observable<readonly StreamEntry[]>[], commit: () => Observable<unknown> = () => of(true), start = '0-0', last: StreamEntry | null = null): EntryFeed => {
    const next = attemptsOf(batches);
    let reading: Subscription | undefined;
    return {
      dataStreamName: 's',
      idInLbs: '1-0',
      start: () => of({ after: start, last }),
      read: (after, count, sink) => {
        reads.push([after, count]);
        reading = next.subscribe({ next: (batch) => sink.entries(batch), error: (err: unknown) => sink.failed(err) });
      },
      cancelRead: () => reading?.unsubscribe(),
      commit: (position) => {
        commits.push(position);
        return commit();
      },
      deadLetter: (entry, reason) => {
        dead.push([entry.id, reason]);
        return EMPTY;
      },
      stopRequested: () => stop,
      fence: () => 7,
    };
  };

  beforeEach(() => {
    testScheduler = newTestScheduler();
    reads = [];
    commits = [];
    dead = [];
    stop = undefined;
  });

  it('reads the next batch only once the handler has handled the previous one (back-pressure), from the committed position', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const b1 = cold<readonly StreamEntry[]>('-(b|)', { b: [e('1-1'), e('1-2')] });
      const b2 = cold<readonly StreamEntry[]>(' ----', {});
      const handler = cold('---|');
      const out = consumeEntries(feed([b1, b2], undefined, '1-0'), () => handler, policy({ commitEvery: { entries: 100, ms: 1 } }), testScheduler);
      expectObservable(out, '^ 20ms !').toBe('-----a--b', { a: '1-1', b: '1-2' });
      expectSubscriptions(b1.subscriptions).toBe('^!');
      expectSubscriptions(handler.subscriptions).toBe(['-^--!', '----^--!']);
      expectSubscriptions(b2.subscriptions).toBe('-------^-------------!');
    });
    expect(reads).to.deep.equal([['1-0', 2], ['1-2', 2]]);
    expect(commits).to.deep.equal(['1-1', '1-2']);
  });

  it('completes after the `until` entry is handled and committed, handling nothing after it', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const b1 = cold<readonly StreamEntry[]>('-(b|)', { b: [e('1-1'), e('1-2', { type: 'end' }), e('1-3')] });
      const seen: string[] = [];
      const out = consumeEntries(feed([b1]), (entry) => (seen.push(entry.id), of(1)), policy({ until: (x) => x.fields.type === 'end', readCount: 3 }), testScheduler);
      expectObservable(out).toBe('-(ab|)', { a: '1-1', b: '1-2' });
      testScheduler.flush();
      expect(seen).to.deep.equal(['1-1', '1-2']);
    });
    expect(commits).to.deep.equal(['1-2']);
  });

  it('goes on at once after a handler that returns EMPTY (a synchronous one), in order, committing as usual', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const b1 = cold<readonly StreamEntry[]>('-(b|)', { b: [e('1-1'), e('1-2')] });
      const b2 = cold<readonly StreamEntry[]>(' --(b|)', { b: [e('1-3', { type: 'end' })] });
      const seen: string[] = [];
      const out = consumeEntries(feed([b1, b2]), (entry) => (seen.push(entry.id), EMPTY), policy({ until: (x) => x.fields.type === 'end' }), testScheduler);
      expectObservable(out).toBe('---(abc|)', { a: '1-1', b: '1-2', c: '1-3' });
      expectSubscriptions(b1.subscriptions).toBe('^!');
      expectSubscriptions(b2.subscriptions).toBe('-^-!');
      testScheduler.flush();
      expect(seen).to.deep.equal(['1-1', '1-2', '1-3']);
    });
    expect(reads).to.deep.equal([['0-0', 2], ['1-2', 2]]);
    expect(commits).to.deep.equal(['1-3']);
  });

  it('completes at once, reading nothing, when the committed entry is the `until` one (its last owner finished it but could not call doneStream)', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const b1 = cold<readonly StreamEntry[]>('-(b|)', { b: [e('1-3')] });
      const out = consumeEntries(feed([b1], undefined, '1-2', e('1-2', { type: 'end' })), () => of(1), policy({ until: (x) => x.fields.type === 'end' }), testScheduler);
      expectObservable(out).toBe('|');
    });
    expect(reads).to.deep.equal([]);
    expect(commits).to.deep.equal([]);
  });

  it('reads on from the committed entry when it is not the `until` one', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const b1 = cold<readonly StreamEntry[]>('-(b|)', { b: [e('1-3', { type: 'end' })] });
      const out = consumeEntries(feed([b1], undefined, '1-2', e('1-2')), () => of(1), policy({ until: (x) => x.fields.type === 'end' }), testScheduler);
      expectObservable(out).toBe('-(a|)', { a: '1-3' });
    });
    expect(reads).to.deep.equal([['1-2', 2]]);
  });

  it('commits the entries handled before a failing handler, then errors with its error', () => {
    const boom = new Error('boom');
    testScheduler.run(({ cold, expectObservable }) => {
      const b1 = cold<readonly StreamEntry[]>('-(b|)', { b: [e('1-1'), e('1-2')] });
      const out = consumeEntries(feed([b1], () => cold('--(c|)')), (entry) => (entry.id === '1-2' ? cold('-#', undefined, boom) : of(1)), policy(), testScheduler);
      expectObservable(out).toBe('----(a#)', { a: '1-1' }, boom);
    });
    expect(commits).to.deep.equal(['1-1']);
  });

  it('stops before the next entry when asked, after flushing', () => {
    const handedBack = new StreamHandedBackError('s', 'rebalanced');
    testScheduler.run(({ cold, expectObservable }) => {
      const b1 = cold<readonly StreamEntry[]>('-(b|)', { b: [e('1-1'), e('1-2')] });
      const out = consumeEntries(feed([b1]), () => cold('--|').pipe((h) => new Observable((s) => h.subscribe({ complete: () => ((stop = handedBack), s.complete()) }))), policy(), testScheduler);
      expectObservable(out).toBe('---(a#)', { a: '1-1' }, handedBack);
    });
    expect(commits).to.deep.equal(['1-1']);
  });

  it('errors with NotOwnerError when a commit is refused, and handles nothing after it', () => {
    const refused = new NotOwnerError('s', 'redis-consumer-other');
    const seen: string[] = [];
    testScheduler.run(({ cold, expectObservable }) => {
      const b1 = cold<readonly StreamEntry[]>('-(b|)', { b: [e('1-1'), e('1-2'), e('1-3')] });
      const out = consumeEntries(feed([b1], () => cold('-#', undefined, refused)), (entry) => (seen.push(entry.id), of(1)), policy({ commitEvery: { entries: 1, ms: 50 }, readCount: 3 }), testScheduler);
      expectObservable(out).toBe('--#', undefined, refused);
    });
    expect(seen).to.deep.equal(['1-1']);
    expect(commits).to.deep.equal(['1-1']);
  });

  it('dead-letters an entry the handler marks as poison, then commits past it; ctx carries the fence', () => {
    const fences: number[] = [];
    testScheduler.run(({ cold, expectObservable }) => {
      const b1 = cold<readonly StreamEntry[]>('-(b|)', { b: [e('1-1', { bad: '1' }), e('1-2')] });
      const out = consumeEntries(feed([b1, cold('-')]), (entry, ctx) => (fences.push(ctx.fence), entry.fields.bad ? ctx.deadLetter('unparseable') : of(1)), policy({ commitEvery: { entries: 2, ms: 50 } }), testScheduler);
      expectObservable(out, '^ 5ms !').toBe('-(ab)', { a: '1-1', b: '1-2' });
    });
    expect(dead).to.deep.equal([['1-1', 'unparseable']]);
    expect(fences).to.deep.equal([7, 7]);
    expect(commits).to.deep.equal(['1-2']);
  });

  it('completes when the data stream is gone (an empty batch), after committing', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const b1 = cold<readonly StreamEntry[]>('-(b|)', { b: [e('1-1')] });
      const gone = cold<readonly StreamEntry[]>('--(g|)', { g: [] });
      expectObservable(consumeEntries(feed([b1, gone]), () => of(1), policy(), testScheduler)).toBe('---(a|)', { a: '1-1' });
    });
    expect(commits).to.deep.equal(['1-1']);
  });
});
