import { expect } from 'chai';
import { Observable, of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { ClaimResult, PendingEntry } from '../lib/port';
import { reconciler$ } from '../lib/sources/reconciler';
import type { StreamAdded } from '../lib/types';
import { fakePort, owned, raw, specDeps } from './support/deps';
import { attemptsOf, newTestScheduler } from './support/scheduler';

const row = (id: string): PendingEntry => ({ id, consumer: 'redis-consumer-dead', idleMs: 50 });
const added = (name: string, id: string): StreamAdded => ({ type: 'StreamAdded', payload: owned(name, id), additionalInfo: {} });

describe('reconciler$ (reconcileInterval 5, hbInterval 10, pages of 2)', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = newTestScheduler();
  });

  const setup = (turns: Observable<boolean>[], flags: Observable<never>, pages: Record<string, readonly PendingEntry[]>) => {
    const pending: string[] = [];
    const turn = attemptsOf(turns);
    const port = fakePort({
      winReconcilerTurn: () => turn,
      pending: (minIdle, start) => (pending.push(`${start}@${minIdle}`), of(pages[start]!)),
      entries: (ids) => of(ids.map((id) => raw(id, `s${id}`))),
      ackDangling: () => of(undefined),
      deadLetter: () => of(undefined),
      claim: (_, id): Observable<ClaimResult> => of({ kind: 'claimed', fields: raw(id, `s${id}`).fields, fence: 1 }),
    });
    const deps = specDeps(testScheduler, port, { reconcileInterval: 5, lbsRecoveryCount: 2 });
    return { pending, deps, reconciled$: reconciler$({ ...deps, flags }) };
  };

  it('does nothing in an interval whose turn another consumer won', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const turns = [cold('-(f|)', { f: false }), cold('-(f|)', { f: false })];
      const flags = cold<never>('|');
      const { pending, reconciled$ } = setup(turns, flags, {});
      expectObservable(reconciled$, '^-----------!').toBe('-------------');
      expectSubscriptions(flags.subscriptions).toBe([]);
      testScheduler.flush();
      expect(pending).to.deep.equal([]);
    });
  });

  it('restores the keyspace flags, then takes one page of lockless entries idle for a heartbeat, the next turn going on from there', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const turns = [cold('-(t|)', { t: true }), cold('-(t|)', { t: true })];
      const flags = cold<never>('-|');
      const { pending, deps, reconciled$ } = setup(turns, flags, { '-': [row('1-0'), row('2-0')], '(2-0': [row('3-0')] });
      expectObservable(reconciled$, '^-------------!').toBe('-------(ab)-c', { a: added('s1-0', '1-0'), b: added('s2-0', '2-0'), c: added('s3-0', '3-0') });
      expectSubscriptions(flags.subscriptions).toBe(['------^!', '-----------^!']);
      testScheduler.flush();
      expect(pending).to.deep.equal(['-@10', '(2-0@10']);
      expect(deps.ledger.size).to.equal(3);
    });
  });

  it('skips its turns while the heartbeat falls behind (the locks it holds come first), and takes the page at the next turn after', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const turns = [cold('-(t|)', { t: true })];
      const { pending, deps } = setup(turns, cold<never>('|'), { '-': [row('1-0')] });
      const locks = { strained: () => testScheduler.now() < 8 };
      expectObservable(reconciler$({ ...deps, locks, flags: cold<never>('|') }), '^-----------!').toBe('-----------a-', { a: added('s1-0', '1-0') });
      testScheduler.flush();
      expect(pending).to.deep.equal(['-@10']);
    });
  });
});

describe('reconciler$ in a balanced fleet (this consumer not the designated claimer)', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = newTestScheduler();
  });

  it('holds a lockless entry back at the turn that first finds it, and takes it at the next', () => {
    testScheduler.run(({ expectObservable }) => {
      const port = fakePort({
        winReconcilerTurn: () => of(true),
        pending: () => of([row('1-0')]),
        entries: (ids) => of(ids.map((id) => raw(id, `s${id}`))),
        ackDangling: () => of(undefined),
        deadLetter: () => of(undefined),
        touchLock: () => of(-2),
        claim: (_, id): Observable<ClaimResult> => of({ kind: 'claimed', fields: raw(id, `s${id}`).fields, fence: 1 }),
      });
      const deps = specDeps(testScheduler, port, { reconcileInterval: 5, lbsRecoveryCount: 2 });
      const fleet = { claimDelay: () => 5, sweepAllowance: () => Infinity } as unknown as NonNullable<Parameters<typeof reconciler$>[0]['fleet']>;
      expectObservable(reconciler$({ ...deps, fleet, flags: of() as Observable<never> }), '^-----------!').toBe('----------a-', { a: added('s1-0', '1-0') });
    });
  });
});
