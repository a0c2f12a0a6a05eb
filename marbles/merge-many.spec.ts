import { expect } from 'chai';
import { firstValueFrom, from, range, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { mergeMany } from '../lib/operators/merge-many';
import { newTestScheduler } from './support/scheduler';

describe('mergeMany (mergeMap for many inners at once)', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = newTestScheduler();
  });

  it('merges every inner as they come, and completes after the source and the last inner', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot('  -a--b----|');
      const inner = cold('   --x-(y|)');
      expectObservable(source.pipe(mergeMany(() => inner))).toBe('---x-yx-y|');
      expectSubscriptions(source.subscriptions).toBe('^--------!');
      expectSubscriptions(inner.subscriptions).toBe(['-^---!', '----^---!']);
    });
  });

  it('ends with the first error, of the source or of an inner, and unsubscribes the others', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot('  -a-b-----|');
      const slow = cold('    ------x|');
      const failing = cold('   --#');
      const inners = { a: slow, b: failing };
      expectObservable(source.pipe(mergeMany((v: string) => inners[v as 'a' | 'b']))).toBe('-----#');
      expectSubscriptions(source.subscriptions).toBe('^----!');
      expectSubscriptions(slow.subscriptions).toBe(' -^---!');
      expectSubscriptions(failing.subscriptions).toBe('---^-!');
    });
  });

  it('unsubscribes every inner when unsubscribed, and keeps no inner that ended at once', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot('  -a-b-c---');
      const never = cold('   -------x');
      const sync = cold('(s|)');
      const inners = { a: never, b: sync, c: never };
      expectObservable(source.pipe(mergeMany((v: string) => inners[v as 'a' | 'b' | 'c'])), '^------!').toBe('---s---');
      expectSubscriptions(source.subscriptions).toBe('^------!');
      expectSubscriptions(never.subscriptions).toBe(['-^-----!', '-----^-!']);
      expectSubscriptions(sync.subscriptions).toBe('---(^!)');
    });
  });

  it('handles 100,000 inners ending together in linear time', async function () {
    this.timeout(60_000);
    /** ms for n inners that all end on one reply. */
    const run = async (n: number): Promise<number> => {
      let release: (v: number) => void = () => undefined;
      const reply = new Promise<number>((resolve) => (release = resolve));
      let count = 0;
      const started = performance.now();
      const done = new Promise<void>((resolve) => range(0, n).pipe(mergeMany(() => from(reply))).subscribe({ next: () => count++, complete: resolve }));
      await firstValueFrom(timer(0));
      release(1);
      await done;
      expect(count).to.equal(n);
      return performance.now() - started;
    };
    await run(10_000); // warm-up
    const small = await run(10_000);
    const large = await run(100_000);
    // Ten times the inners: about ten times the time when linear; mergeMap's n² removals from one
    // array make it about a hundred (a ratio, so that a loaded machine does not fail it).
    expect(large / Math.max(small, 1)).to.be.below(40);
  });
});
