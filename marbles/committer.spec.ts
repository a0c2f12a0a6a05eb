import { expect } from 'chai';
import { Observable, Subject, concat, concatMap, from, merge, of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { NotOwnerError } from '../lib/errors';
import { COMMIT_RETRIES, COMMIT_RETRY_MAX_MS, COMMIT_RETRY_MS, Committer } from '../lib/entries/committer';
import { newTestScheduler } from './support/scheduler';

describe('Committer (commit batching of one stream)', () => {
  let testScheduler: TestScheduler;
  let positions: string[];

  beforeEach(() => {
    testScheduler = newTestScheduler();
    positions = [];
  });

  /** A committer whose committed ids (and failure) go out on `committed$`; `retryable` as the target's. */
  const committerOf = (commit: () => Observable<unknown>, entries: number, ms: number, retryable?: (err: unknown) => boolean): Committer & { committed$: Observable<string> } => {
    const out = new Subject<string>();
    const c = new Committer(
      {
        commit: (position) => {
          positions.push(position);
          return commit();
        },
        ...(retryable === undefined ? {} : { retryable }),
      },
      { entries, ms },
      testScheduler,
      { committed: (id) => out.next(id), commitFailed: (err) => out.error(err) },
    );
    return Object.assign(c, { committed$: out.asObservable() });
  };

  it('commits the last id once `entries` are handled, and makes the next entry wait for that commit', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const commit = cold('--(c|)');
      const c = committerOf(() => commit, 2, 100);
      const handled$ = from(['a', 'b', 'c']).pipe(concatMap((id) => concat(c.handled(id), of(id.toUpperCase()))));
      expectObservable(merge(c.committed$, handled$), '^ 50ms !').toBe('A-(abBC)', { a: 'a', b: 'b', A: 'A', B: 'B', C: 'C' });
      expectSubscriptions(commit.subscriptions).toBe(['^-!', '-'.repeat(102) + '^-!']);
    });
    expect(positions).to.deep.equal(['b', 'c']);
  });

  it('commits a partial batch `ms` after its first entry', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const commit = cold('-(c|)');
      const c = committerOf(() => commit, 10, 5);
      const ids = hot('  -a-b------c|');
      const out = merge(c.committed$, ids.pipe(concatMap((id) => c.handled(id))));
      expectObservable(out).toBe('-------(ab)-----c', { a: 'a', b: 'b', c: 'c' });
      expectSubscriptions(commit.subscriptions).toBe(['------^!', '---------------^!']);
    });
    expect(positions).to.deep.equal(['b', 'c']);
  });

  it('flush commits what is left after the commit in flight, one commit at a time', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const commit = cold('-----(c|)');
      const c = committerOf(() => commit, 2, 100);
      const out = merge(c.committed$, concat(c.handled('a'), c.handled('b'), c.handled('c'), c.flush(), of('f')));
      expectObservable(out).toBe('-----(ab)-(cf)', { a: 'a', b: 'b', c: 'c', f: 'f' });
    });
    expect(positions).to.deep.equal(['b', 'c']);
  });

  it('a refused commit errors committed$ and every later call, and commits nothing more', () => {
    const refused = new NotOwnerError('s', 'redis-consumer-other');
    testScheduler.run(({ cold, expectObservable }) => {
      const c = committerOf(() => cold('-#', undefined, refused), 1, 100);
      expectObservable(merge(c.committed$, concat(c.handled('a'), c.handled('b')))).toBe('-#', undefined, refused);
      expectObservable(c.flush()).toBe('-#', undefined, refused);
    });
    expect(positions).to.deep.equal(['a']);
  });

  it('sends a commit that failed with a retryable error again after a growing backoff, and the next entry waits meanwhile', () => {
    const moved = new Error('TRYAGAIN Multiple keys request during rehashing of slot');
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const failing = cold('-#', undefined, moved);
      const ok = cold('-(c|)');
      const attempts = [failing, failing, ok];
      let n = 0;
      const c = committerOf(() => attempts[n++]!, 1, 100, (err) => err === moved);
      const out = merge(c.committed$, concat(c.handled('a'), of('A')));
      // tries at 0, 1 + 50, 52 + 100: committed at 153
      expectObservable(out).toBe(`${'-'.repeat(153)}(aA)`, { a: 'a', A: 'A' });
      expectSubscriptions(failing.subscriptions).toBe(['^!', `${'-'.repeat(51)}^!`]);
      expectSubscriptions(ok.subscriptions).toBe(`${'-'.repeat(152)}^!`);
    });
    expect(positions).to.deep.equal(['a', 'a', 'a']);
  });

  it('gives up after COMMIT_RETRIES retryable failures, and fails at once on an error that is not retryable', () => {
    const moved = new Error('TRYAGAIN');
    const refused = new NotOwnerError('s', 'redis-consumer-other');
    testScheduler.run(({ cold, expectObservable }) => {
      const c = committerOf(() => cold('#', undefined, moved), 1, 100, (err) => err === moved);
      const backoff = Array.from({ length: COMMIT_RETRIES }, (_, i) => Math.min(COMMIT_RETRY_MAX_MS, COMMIT_RETRY_MS * 2 ** i)).reduce((a, b) => a + b, 0);
      expectObservable(merge(c.committed$, c.handled('a'))).toBe(`${backoff}ms #`, undefined, moved);
      const d = committerOf(() => cold('-#', undefined, refused), 1, 100, (err) => err === moved);
      expectObservable(merge(d.committed$, d.handled('b'))).toBe('-#', undefined, refused);
    });
    expect(positions).to.have.length(COMMIT_RETRIES + 2);
  });

  it('flush with nothing handled commits nothing; close drops what is pending and stops the timer', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const c = committerOf(() => cold('(c|)'), 10, 5);
      expectObservable(c.flush()).toBe('|');
      c.handled('a').subscribe();
      c.close();
      expectObservable(c.committed$).toBe('');
    });
    expect(positions).to.deep.equal([]);
  });
});
