import { expect } from 'chai';
import { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { NotOwnerError, RedisCommandError, StreamHandedBackError, StreamHandlerError } from '../lib/errors';
import { StreamFinisher, StreamOutcome, processStreams } from '../lib/operators/process-streams';
import type { LbsInfo, OwnedLbsInfo, OwnershipNotification } from '../lib/types';
import { newTestScheduler } from './support/scheduler';

const info = (name: string): LbsInfo => ({ dataStreamName: name, idInLbs: `${name}-0` });
const owned = (name: string): OwnedLbsInfo => ({ ...info(name), fence: 1 });
const added = (name: string): OwnershipNotification => ({ type: 'StreamAdded', payload: owned(name), additionalInfo: {} });
const claimed = (name: string): OwnershipNotification => ({ type: 'StreamClaimed', payload: owned(name), additionalInfo: {} });
const disowned = (name: string): OwnershipNotification => ({ type: 'StreamDisowned', payload: info(name) });
const processed = (name: string): StreamOutcome => ({ type: 'Processed', payload: owned(name) });
const abandoned = (name: string): StreamOutcome => ({ type: 'Abandoned', payload: owned(name) });

describe('processStreams', () => {
  let testScheduler: TestScheduler;
  let calls: string[];

  const finisher = (done: () => Observable<void>, release: () => Observable<void>): StreamFinisher => ({
    doneStream: (name) => {
      calls.push(`done:${name}`);
      return done();
    },
    release: (name) => {
      calls.push(`release:${name}`);
      return release();
    },
  });

  beforeEach(() => {
    calls = [];
    testScheduler = newTestScheduler();
  });

  it('calls doneStream when the handler completes, then emits Processed', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot<OwnershipNotification>('-a-------|', { a: added('a') });
      const work = cold('                          ---|');
      const done = cold<void>('                       -|');
      const expected = '                         -----p---|';
      const out = source.pipe(processStreams(finisher(() => done, () => cold('|')), () => work));
      expectObservable(out).toBe(expected, { p: processed('a') });
      expectSubscriptions(work.subscriptions).toBe(' -^--!');
      expectSubscriptions(done.subscriptions).toBe(' ----^!');
    });
    expect(calls).to.deep.equal(['done:a']);
  });

  it('unsubscribes the handler at once when the stream is disowned mid-work, and never acknowledges it', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot<OwnershipNotification>('-a--d----|', { a: added('a'), d: disowned('a') });
      const work = cold('                          ------|');
      const expected = '                         ----x----|';
      const out = source.pipe(processStreams(finisher(() => cold('|'), () => cold('|')), () => work));
      expectObservable(out).toBe(expected, { x: abandoned('a') });
      expectSubscriptions(work.subscriptions).toBe(' -^--!');
    });
    expect(calls).to.deep.equal([]);
  });

  it('treats a completion that loses the race with a new owner (NOT_OWNER) as Abandoned', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot<OwnershipNotification>('-a------|', { a: added('a') });
      const work = cold('                          --|');
      const done = cold<void>('                      -#', undefined, new NotOwnerError('a', 'redis-consumer-b'));
      const expected = '                         ----x---|';
      expectObservable(source.pipe(processStreams(finisher(() => done, () => cold('|')), () => work))).toBe(expected, { x: abandoned('a') });
      expectSubscriptions(source.subscriptions).toBe('^-------!');
      expectSubscriptions(work.subscriptions).toBe(' -^-!');
      expectSubscriptions(done.subscriptions).toBe(' ---^!');
    });
    expect(calls).to.deep.equal(['done:a']);
  });

  it('hands the stream back when doneStream fails with a Redis error, so the work is done again elsewhere', () => {
    const down = new RedisCommandError('Finishing stream "a" failed: Connection is closed.');
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot<OwnershipNotification>('-a------|', { a: added('a') });
      const work = cold('                          --|');
      const done = cold<void>('                      -#', undefined, down);
      const release = cold<void>('                    |');
      const expected = '                         ----f---|';
      expectObservable(source.pipe(processStreams(finisher(() => done, () => release), () => work))).toBe(expected, {
        f: { type: 'Failed', payload: owned('a'), error: down },
      });
      expectSubscriptions(work.subscriptions).toBe(' -^-!');
      expectSubscriptions(done.subscriptions).toBe(' ---^!');
      expectSubscriptions(release.subscriptions).toBe('----(^!)');
    });
    expect(calls).to.deep.equal(['done:a', 'release:a']);
  });

  it('hands the stream back with release when the handler fails, and reports a typed error naming it', () => {
    const boom = new Error('boom');
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot<OwnershipNotification>('-a-b-----|', { a: added('a'), b: claimed('b') });
      const failing = cold('                       --#', undefined, boom);
      const fine = cold('                          ---|');
      const handlers: Record<string, Observable<unknown>> = { a: failing, b: fine };
      const expected = '                         ---f--p--|';
      const out = source.pipe(processStreams(finisher(() => cold('|'), () => cold('|')), (s) => handlers[s.payload.dataStreamName]!));
      expectObservable(out).toBe(expected, {
        f: { type: 'Failed', payload: owned('a'), error: new StreamHandlerError('a', boom) },
        p: processed('b'),
      });
      expectSubscriptions(failing.subscriptions).toBe(' -^-!');
      expectSubscriptions(fine.subscriptions).toBe('   ---^--!');
    });
    expect(calls).to.deep.equal(['release:a', 'done:b']);
  });

  it('queues streams beyond the concurrency cap and abandons a queued stream that is disowned before it starts', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot<OwnershipNotification>('-abc-d-------|', { a: added('a'), b: added('b'), c: added('c'), d: disowned('c') });
      const work = cold('                          ----|');
      const expected = '                         -----a---(bx)|';
      const out = source.pipe(processStreams(finisher(() => cold('|'), () => cold('|')), () => work, { concurrency: 1 }));
      expectObservable(out).toBe(expected, { a: processed('a'), b: processed('b'), x: abandoned('c') });
      expectSubscriptions(work.subscriptions).toBe([' -^---!', ' -----^---!']);
    });
    expect(calls).to.deep.equal(['done:a', 'done:b']);
  });

  it('reports a refused consumeStream commit (NotOwnerError from the handler) as Abandoned, and releases nothing', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const source = hot<OwnershipNotification>('-a----|', { a: added('a') });
      const work = cold('                          --#', undefined, new NotOwnerError('a', 'redis-consumer-other'));
      const out = source.pipe(processStreams(finisher(() => cold('|'), () => cold('|')), () => work));
      expectObservable(out).toBe('---x--|', { x: abandoned('a') });
    });
    expect(calls).to.deep.equal([]);
  });

  it('releases a stream handed back for rebalancing and reports Rebalanced; one stopped by release or done is Abandoned', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const source = hot<OwnershipNotification>('-a-b----|', { a: added('a'), b: added('b') });
      const works: Record<string, Observable<never>> = {
        a: cold('--#', undefined, new StreamHandedBackError('a', 'rebalanced')),
        b: cold('--#', undefined, new StreamHandedBackError('b', 'released')),
      };
      const out = source.pipe(processStreams(finisher(() => cold('|'), () => cold('-|')), (s) => works[s.payload.dataStreamName]!));
      expectObservable(out).toBe('----rx--|', { r: { type: 'Rebalanced', payload: owned('a') }, x: abandoned('b') });
    });
    expect(calls).to.deep.equal(['release:a']);
  });

  it('works through a long queue of streams whose handler and doneStream end at once, one slot at a time, without deep recursion', () => {
    const n = 20_000;
    const outcomes: StreamOutcome[] = [];
    const source = new Observable<OwnershipNotification>((s) => {
      for (let i = 0; i < n; i++) s.next(added(`s${i}`));
      s.complete();
    });
    let completed = false;
    source.pipe(processStreams({ doneStream: () => new Observable<void>((s) => s.complete()), release: () => new Observable<void>((s) => s.complete()) }, () => new Observable((s) => s.complete()), { concurrency: 1 })).subscribe({
      next: (o) => outcomes.push(o),
      complete: () => (completed = true),
    });
    expect(outcomes).to.have.length(n);
    expect(outcomes.every((o) => o.type === 'Processed')).to.equal(true);
    expect(outcomes[n - 1]).to.deep.equal(processed(`s${n - 1}`));
    expect(completed).to.equal(true);
  });

  it('lets a doneStream under way finish when the stream is disowned meanwhile', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot<OwnershipNotification>('-a---d---|', { a: added('a'), d: disowned('a') });
      const work = cold('                          --|');
      const done = cold<void>('                      ---|');
      const out = source.pipe(processStreams(finisher(() => done, () => cold('|')), () => work));
      expectObservable(out).toBe('------p--|', { p: processed('a') });
      expectSubscriptions(done.subscriptions).toBe('---^--!');
    });
    expect(calls).to.deep.equal(['done:a']);
  });

  it('unsubscribes the handlers of every running stream when the outcomes are unsubscribed', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot<OwnershipNotification>('-ab------', { a: added('a'), b: added('b') });
      const work = cold('                          -------|');
      const out = source.pipe(processStreams(finisher(() => cold('|'), () => cold('|')), () => work));
      expectObservable(out, '^----!').toBe('------');
      expectSubscriptions(work.subscriptions).toBe(['-^---!', '--^--!']);
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
    expect(calls).to.deep.equal([]);
  });
});
