import { expect } from 'chai';
import { Observable, catchError, of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { claim, doneStream, release } from '../lib/lease/commands';
import type { ClaimResult, FinishResult, LbsPort } from '../lib/port';
import { fakePort, info, raw, specDeps } from './support/deps';
import { attemptsOf, newTestScheduler } from './support/scheduler';

const codeOf = (err: { code?: string }) => of(err.code);

describe('lease commands (hbInterval 10)', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = newTestScheduler();
  });

  const setup = (port: Partial<LbsPort>) => specDeps(testScheduler, fakePort(port));

  describe('release', () => {
    it('makes the lock expire once the stream was held one TTL (XCLAIM would refuse it sooner), at once, then reads it from then until Redis deleted it', () => {
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const expire = cold('-(t|)', { t: true });
        const reads = [cold('(a|)', { a: 1 }), cold('(g|)', { g: -2 })];
        const read = attemptsOf(reads);
        const deps = setup({ expireLock: () => expire, touchLock: () => read });
        const lease = deps.ledger.take(info('s1'), {});
        const released$ = release(deps, 's1');
        expectObservable(released$).toBe('---------------(v|)', { v: undefined });
        expectSubscriptions(expire.subscriptions).toBe('^!');
        expectSubscriptions(reads[0]!.subscriptions).toBe('-------------(^!)');
        expectSubscriptions(reads[1]!.subscriptions).toBe('---------------(^!)');
        testScheduler.flush();
        expect(deps.ledger.get('s1')).to.equal(undefined);
        expect(deps.ledger.isHandedBack(lease.lockKey)).to.equal(true);
      });
    });

    it('reads the lock at most five times', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        let reads = 0;
        const deps = setup({ expireLock: () => cold('(t|)', { t: true }), touchLock: () => ((reads += 1), cold('(a|)', { a: 1 })) });
        deps.ledger.take(info('s1'), {});
        // set to expire at 10, then read at 12, 14, 16, 18 and 20, every read finding it still there
        expectObservable(release(deps, 's1')).toBe('--------------------(v|)', { v: undefined });
        testScheduler.flush();
        expect(reads).to.equal(5);
      });
    });

    it('forgets the hand-back when the lock was not ours any more, and reads nothing', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const deps = setup({ expireLock: () => cold('(f|)', { f: false }) });
        const lease = deps.ledger.take(info('s1'), {});
        expectObservable(release(deps, 's1')).toBe('(v|)', { v: undefined });
        testScheduler.flush();
        expect(deps.ledger.isHandedBack(lease.lockKey)).to.equal(false);
      });
    });

    it('refuses a stream this consumer does not own (STREAM_NOT_FOUND)', () => {
      testScheduler.run(({ expectObservable }) => {
        expectObservable(release(setup({}), 'nope').pipe(catchError(codeOf))).toBe('(c|)', { c: 'STREAM_NOT_FOUND' });
      });
    });
  });

  describe('claim', () => {
    it('takes the stream with the Info of its LBS entry, and records the attempt', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const won = cold<ClaimResult>('--(c|)', { c: { kind: 'claimed', fields: raw('1-0', 's1', { k: 1 }).fields, fence: 1 } });
        const recorded: [string, boolean, number][] = [];
        const deps = { ...setup({ claim: () => won }), metrics: { recordClaimAttempt: (n: string, ok: boolean, ms: number) => void recorded.push([n, ok, ms]) } };
        expectObservable(claim(deps, info('s1'))).toBe('--(c|)', { c: { payload: { ...info('s1'), fence: 1 }, additionalInfo: { k: 1 } } });
        testScheduler.flush();
        expect(deps.ledger.holds('s1', '1-0')).to.equal(true);
        expect(recorded).to.deep.equal([['s1', true, 2]]);
      });
    });

    it('fails with ALREADY_CLAIMED when another consumer holds the lock, or at once, without Redis, when this consumer holds the stream', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const deps = setup({ claim: () => cold<ClaimResult>('-(h|)', { h: { kind: 'held', holder: 'redis-consumer-b' } }) });
        expectObservable(claim(deps, info('s1')).pipe(catchError(codeOf))).toBe('-(c|)', { c: 'ALREADY_CLAIMED' });
        const mine = setup({});
        mine.ledger.take(info('s2'), {});
        expectObservable(claim(mine, info('s2')).pipe(catchError(codeOf))).toBe('(c|)', { c: 'ALREADY_CLAIMED' });
      });
    });
  });

  describe('doneStream', () => {
    const finishing = (result: FinishResult): Observable<FinishResult> => of(result);

    it('finishes an owned stream and forgets it', () => {
      testScheduler.run(({ expectObservable }) => {
        const deps = setup({ finish: () => finishing({ kind: 'finished' }) });
        deps.ledger.take(info('s1'), {});
        expectObservable(doneStream(deps, 's1')).toBe('(v|)', { v: undefined });
        testScheduler.flush();
        expect(deps.ledger.size).to.equal(0);
      });
    });

    it('fails with NOT_OWNER, and forgets the stream, when another consumer holds its lock or took its entry', () => {
      testScheduler.run(({ expectObservable }) => {
        const held = setup({ finish: () => finishing({ kind: 'held', holder: 'redis-consumer-b' }) });
        held.ledger.take(info('s1'), {});
        const taken = setup({ finish: () => finishing({ kind: 'not-pending', holder: undefined }) });
        taken.ledger.take(info('s1'), {});
        expectObservable(doneStream(held, 's1').pipe(catchError(codeOf))).toBe('(c|)', { c: 'NOT_OWNER' });
        expectObservable(doneStream(taken, 's1').pipe(catchError(codeOf))).toBe('(c|)', { c: 'NOT_OWNER' });
        testScheduler.flush();
        expect(held.ledger.size + taken.ledger.size).to.equal(0);
      });
    });

    it('keeps the stream owned when Redis fails, and says so with a RedisCommandError', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const deps = setup({ finish: () => cold<FinishResult>('-#', undefined, new Error('Connection is closed.')) });
        deps.ledger.take(info('s1'), {});
        expectObservable(doneStream(deps, 's1').pipe(catchError(codeOf))).toBe('-(c|)', { c: 'REDIS' });
        testScheduler.flush();
        expect(deps.ledger.holds('s1', '1-0')).to.equal(true);
      });
    });
  });
});
