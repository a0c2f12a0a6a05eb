/**
 * Gathers the items pushed during one turn of the event loop and hands them to `run` together
 * (at most `max` per call), then settles each push with its own result: many `doneStream` calls
 * become one script call, not one round trip each.
 *
 * At most `inFlight` calls run at once (default: no limit); items pushed meanwhile wait in order
 * and go in full calls as calls end. This is back-pressure on the connection: a burst of tens of
 * thousands of claims is not written to the socket at once, so a command sent after it (the
 * heartbeat's extension) waits behind at most `inFlight` calls, not behind seconds of them.
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
  private running = 0;
  private scheduled = false;

  constructor(
    private readonly run: (items: readonly I[]) => Promise<readonly O[]>,
    private readonly max: number,
    private readonly schedule: (flush: () => void) => void = setImmediate,
    private readonly inFlight = Infinity,
  ) {}

  push(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.scheduled || this.running >= this.inFlight) return;
      this.scheduled = true;
      this.schedule(() => {
        this.scheduled = false;
        this.flush();
      });
    });
  }

  /** Starts calls while fewer than `inFlight` run; each call that ends starts the next. */
  private flush(): void {
    while (this.queue.length > 0 && this.running < this.inFlight) {
      const chunk = this.queue.splice(0, this.max);
      this.running++;
      const next = (): void => {
        this.running--;
        this.flush();
      };
      this.run(chunk.map((q) => q.item)).then(
        (results) => {
          if (results.length !== chunk.length) {
            const err = new Error(`Batch returned ${results.length} results for ${chunk.length} items`);
            for (const q of chunk) q.reject(err);
          } else {
            chunk.forEach((q, i) => q.resolve(results[i]!));
          }
          next();
        },
        (err: unknown) => {
          for (const q of chunk) q.reject(err);
          next();
        },
      );
    }
  }
}
