import { expect } from 'chai';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { Batcher } from '../lib/redis/batcher';

describe('Batcher (one call for the items pushed in one turn)', () => {
  /** A batcher over a recorded function; `flush()` runs the scheduled flushes by hand. */
  const setup = (run: (items: readonly number[]) => Promise<readonly string[]>, max = 3) => {
    const calls: number[][] = [];
    const scheduled: (() => void)[] = [];
    const batcher = new Batcher<number, string>(
      (items) => {
        calls.push([...items]);
        return run(items);
      },
      max,
      (flush) => void scheduled.push(flush),
    );
    const flush = () => scheduled.splice(0).forEach((f) => f());
    return { batcher, calls, flush };
  };

  it('hands the items pushed before a flush to one call, in order, and settles each with its own result', async () => {
    const { batcher, calls, flush } = setup(async (items) => items.map((i) => `r${i}`));
    const results = [batcher.push(1), batcher.push(2)];
    flush();
    expect(await Promise.all(results)).to.deep.equal(['r1', 'r2']);
    expect(calls).to.deep.equal([[1, 2]]);
  });

  it('splits a flush into calls of at most `max` items, sent at once', async () => {
    const { batcher, calls, flush } = setup(async (items) => items.map((i) => `r${i}`));
    const results = [1, 2, 3, 4, 5, 6, 7].map((i) => batcher.push(i));
    flush();
    expect(calls).to.deep.equal([[1, 2, 3], [4, 5, 6], [7]]);
    expect(await Promise.all(results)).to.deep.equal(['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7']);
  });

  it('schedules one flush per batch, and a push after a flush starts a new batch', async () => {
    const { batcher, calls, flush } = setup(async (items) => items.map(String));
    const first = batcher.push(1);
    flush();
    const second = batcher.push(2);
    flush();
    expect(await Promise.all([first, second])).to.deep.equal(['1', '2']);
    expect(calls).to.deep.equal([[1], [2]]);
  });

  it('rejects every push of a failed call, and only those', async () => {
    const { batcher, flush } = setup(async (items) => {
      if (items.includes(2)) throw new Error('down');
      return items.map(String);
    }, 2);
    const results = [1, 2, 3].map((i) => batcher.push(i).catch((e: Error) => e.message));
    flush();
    expect(await Promise.all(results)).to.deep.equal(['down', 'down', '3']);
  });

  it('rejects when the call returns the wrong number of results, instead of settling items with the wrong one', async () => {
    const { batcher, flush } = setup(async () => ['only one']);
    const results = [1, 2].map((i) => batcher.push(i).catch((e: Error) => e.message));
    flush();
    expect(await Promise.all(results)).to.deep.equal(['Batch returned 1 results for 2 items', 'Batch returned 1 results for 2 items']);
  });

  it('runs at most `inFlight` calls at once; items pushed meanwhile wait in order and go in full calls as calls end', async () => {
    const calls: number[][] = [];
    const ends: (() => void)[] = [];
    const scheduled: (() => void)[] = [];
    const batcher = new Batcher<number, string>(
      (items) => {
        calls.push([...items]);
        return new Promise((resolve) => ends.push(() => resolve(items.map(String))));
      },
      2,
      (flush) => void scheduled.push(flush),
      1,
    );
    const first = [1, 2, 3].map((i) => batcher.push(i));
    scheduled.splice(0).forEach((f) => f());
    expect(calls).to.deep.equal([[1, 2]]);
    const later = [4, 5].map((i) => batcher.push(i));
    expect(scheduled).to.have.length(0);
    ends.shift()!();
    await first[1];
    expect(calls).to.deep.equal([[1, 2], [3, 4]]);
    ends.shift()!();
    await later[0];
    expect(calls).to.deep.equal([[1, 2], [3, 4], [5]]);
    ends.shift()!();
    expect(await Promise.all([...first, ...later])).to.deep.equal(['1', '2', '3', '4', '5']);
  });

  it('starts the next call after a failed one', async () => {
    const calls: number[][] = [];
    const scheduled: (() => void)[] = [];
    const batcher = new Batcher<number, string>(
      async (items) => {
        calls.push([...items]);
        if (items.includes(1)) throw new Error('down');
        return items.map(String);
      },
      1,
      (flush) => void scheduled.push(flush),
      1,
    );
    const results = [1, 2].map((i) => batcher.push(i).catch((e: Error) => e.message));
    scheduled.splice(0).forEach((f) => f());
    expect(await Promise.all(results)).to.deep.equal(['down', '2']);
    expect(calls).to.deep.equal([[1], [2]]);
  });

  it('flushes on its own in the next turn of the event loop by default', async () => {
    const calls: number[][] = [];
    const batcher = new Batcher<number, number>(async (items) => (calls.push([...items]), items.map((i) => i * 2)), 10);
    expect(await Promise.all([batcher.push(1), batcher.push(2), batcher.push(3)])).to.deep.equal([2, 4, 6]);
    expect(calls).to.deep.equal([[1, 2, 3]]);
  });
  describe('observe (push as an Observable, no promise per item)', () => {
    it('sends observed and pushed items in one call, and gives each subscriber its own result, then completes', async () => {
      const { batcher, calls, flush } = setup(async (items) => items.map((i) => `r${i}`), 10);
      const a = lastValueFrom(batcher.observe(1).pipe(toArray()));
      const b = batcher.push(2);
      const c = lastValueFrom(batcher.observe(3).pipe(toArray()));
      flush();
      expect(await Promise.all([a, b, c])).to.deep.equal([['r1'], 'r2', ['r3']]);
      expect(calls).to.deep.equal([[1, 2, 3]]);
    });

    it("errors every subscriber of a failed call with the call's error", async () => {
      const { batcher, flush } = setup(async () => {
        throw new Error('down');
      });
      const results = [1, 2].map((i) => firstValueFrom(batcher.observe(i)).catch((e: Error) => e.message));
      flush();
      expect(await Promise.all(results)).to.deep.equal(['down', 'down']);
    });

    it('drops the result of a subscriber that left, and still settles the others of its call', async () => {
      let answer!: () => void;
      const { batcher, calls, flush } = setup((items) => new Promise((resolve) => (answer = () => resolve(items.map((i) => `r${i}`)))), 10);
      const seen: string[] = [];
      const left = batcher.observe(1).subscribe((r) => seen.push(r));
      const stayed = firstValueFrom(batcher.observe(2));
      flush();
      left.unsubscribe();
      answer();
      expect(await stayed).to.equal('r2');
      expect(seen).to.deep.equal([]);
      expect(calls).to.deep.equal([[1, 2]]);
    });
  });
});
