/**
 * Gathers the items pushed during one turn of the event loop and hands them to `run` together
 * (at most `max` per call, calls made at once), then settles each push with its own result: many
 * `doneStream` calls become one script call, not one round trip each.
 *
 * `run` must resolve one result per item, in order. If a call fails, every push of that call
 * rejects with its error.
 *
 * @example
 * const finish = new Batcher((ids: string[]) => redisScript(ids), 1000);
 * await Promise.all([finish.push('a'), finish.push('b')]); // one call of run(['a', 'b'])
 */
export class Batcher<I, O> {
  private queue: { readonly item: I; readonly resolve: (o: O) => void; readonly reject: (err: unknown) => void }[] = [];

  constructor(
    private readonly run: (items: readonly I[]) => Promise<readonly O[]>,
    private readonly max: number,
    private readonly schedule: (flush: () => void) => void = setImmediate,
  ) {}

  push(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      if (this.queue.length === 0) this.schedule(() => this.flush());
      this.queue.push({ item, resolve, reject });
    });
  }

  private flush(): void {
    const queued = this.queue;
    this.queue = [];
    for (let from = 0; from < queued.length; from += this.max) {
      const chunk = queued.slice(from, from + this.max);
      this.run(chunk.map((q) => q.item)).then(
        (results) => {
          if (results.length !== chunk.length) {
            const err = new Error(`Batch returned ${results.length} results for ${chunk.length} items`);
            for (const q of chunk) q.reject(err);
            return;
          }
          chunk.forEach((q, i) => q.resolve(results[i]!));
        },
        (err: unknown) => {
          for (const q of chunk) q.reject(err);
        },
      );
    }
  }
}
