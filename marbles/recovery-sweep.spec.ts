import { expect } from 'chai';
import { Observable, of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { RawEntry } from '../lib/codecs/lbs-message';
import type { ClaimResult, LbsPort, PendingEntry } from '../lib/port';
import { recoverySweep$ } from '../lib/sources/recovery-sweep';
import type { StreamAdded } from '../lib/types';
import { fakePort, info, messages, owned, raw, specDeps } from './support/deps';
import { attemptsOf, newTestScheduler } from './support/scheduler';

const added = (name: string, id: string): StreamAdded => ({ type: 'StreamAdded', payload: owned(name, id), additionalInfo: {} });
const row = (id: string, consumer = 'redis-consumer-dead'): PendingEntry => ({ id, consumer, idleMs: 500 });
const CLAIMED = (name: string): ClaimResult => ({ kind: 'claimed', fields: raw('0-0', name).fields, fence: 1 });

describe('recoverySweep$ (lbsIdleTime 100, pages of 2)', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = newTestScheduler();
  });

  /** A Redis with these pending pages (by start), LBS entries (by id; null = deleted) and claim results (by id). */
  const redis = (pages: Record<string, Observable<readonly PendingEntry[]>>, lbs: Record<string, RawEntry | null>, claims: Record<string, Observable<ClaimResult>>, more: Partial<LbsPort> = {}) => {
    const calls = { pending: [] as string[], entries: [] as string[][], acked: [] as string[][], claimed: [] as [string, string, number][] };
    const port = fakePort({
      pending: (minIdle, start) => (calls.pending.push(`${start}@${minIdle}`), pages[start]!),
      entries: (ids) => (calls.entries.push([...ids]), of(ids.map((id) => lbs[id]!))),
      ackDangling: (ids) => (calls.acked.push([...ids]), of(undefined)),
      deadLetter: () => of(undefined),
      claim: (lock, id, minIdle) => (calls.claimed.push([lock, id, minIdle]), claims[id]!),
      ...more,
    });
    return { calls, deps: specDeps(testScheduler, port, { lbsIdleTime: 100, lbsRecoveryCount: 2 }) };
  };

  it('takes, page after page, the pending entries whose lock is gone, and leaves those whose owner holds its lock', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const { calls, deps } = redis(
        { '-': cold('-(p|)', { p: [row('1-0'), row('2-0', 'redis-consumer-live')] }), '(2-0': cold('-(p|)', { p: [row('3-0')] }) },
        { '1-0': raw('1-0', 's1'), '2-0': raw('2-0', 's2'), '3-0': raw('3-0', 's3') },
        { '1-0': cold('-(c|)', { c: CLAIMED('s1') }), '2-0': cold('-(h|)', { h: { kind: 'held', holder: 'redis-consumer-live' } }), '3-0': cold('-(c|)', { c: CLAIMED('s3') }) },
      );
      expectObservable(recoverySweep$(deps), '^-------!').toBe('--a-b----', { a: added('s1', '1-0'), b: added('s3', '3-0') });
      testScheduler.flush();
      expect(calls.pending).to.deep.equal(['-@100', '(2-0@100']);
      expect(calls.claimed.map(([, id, minIdle]) => `${id}@${minIdle}`)).to.deep.equal(['1-0@100', '2-0@100', '3-0@100']);
      expect(deps.ledger.holds('s1', '1-0') && deps.ledger.holds('s3', '3-0') && !deps.ledger.holds('s2', '2-0')).to.equal(true);
    });
  });

  it('leaves alone the entries this consumer holds, acknowledges those whose LBS entry is gone, and claims nothing for them', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const { calls, deps } = redis({ '-': cold('(p|)', { p: [row('1-0', 'redis-consumer-me'), row('4-0')] }) }, { '4-0': null }, {});
      deps.ledger.take(info('mine', '1-0'), {});
      expectObservable(recoverySweep$(deps), '^---!').toBe('-----');
      testScheduler.flush();
      expect(calls.entries).to.deep.equal([['4-0']]);
      expect(calls.acked).to.deep.equal([['4-0']]);
      expect(calls.claimed).to.deep.equal([]);
    });
  });

  it('records the start-up sweep, logs a failed sweep, and sweeps again every lbsIdleTime', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const pages = [cold<readonly PendingEntry[]>('-#'), cold('-(p|)', { p: [] })];
      const page = attemptsOf(pages);
      const recorded: [boolean, number][] = [];
      const { deps } = redis({}, {}, {}, { pending: () => page });
      const sweep$ = recoverySweep$({ ...deps, metrics: { recordStartupRecovery: (ok, n) => void recorded.push([ok, n]) } });
      expectObservable(sweep$, '^ 150ms !').toBe('-');
      expectSubscriptions(pages[0]!.subscriptions).toBe('^!');
      expectSubscriptions(pages[1]!.subscriptions).toBe('100ms ^!');
      testScheduler.flush();
      expect(recorded).to.deep.equal([[false, 0]]);
      expect(messages(deps.logs, 'warn')).to.deep.equal(['recovery sweep failed; the next one runs in lbsIdleTime']);
    });
  });

  it('logs a claim that failed and still takes the other entries of the page', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const { deps } = redis(
        { '-': cold('(p|)', { p: [row('1-0'), row('2-0')] }), '(2-0': cold('(p|)', { p: [] }) },
        { '1-0': raw('1-0', 's1'), '2-0': raw('2-0', 's2') },
        { '1-0': cold<ClaimResult>('-#', undefined, new Error('BUSY')), '2-0': cold('-(c|)', { c: CLAIMED('s2') }) },
      );
      expectObservable(recoverySweep$(deps), '^---!').toBe('-b---', { b: added('s2', '2-0') });
      testScheduler.flush();
      expect(messages(deps.logs, 'warn')).to.deep.equal(['recovering one LBS entry failed']);
    });
  });
});
