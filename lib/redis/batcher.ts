import { Observable } from 'rxjs';

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
  /** Items waiting for a call, read from `head` on (a splice from the front of tens of thousands would move them all at every call); the array is cut once most of it was read. */
  private queue: { readonly item: I; readonly resolve: (o: O) => void; readonly reject: (err: unknown) => void }[] = [];
  private head = 0;
  private running = 0;
  private scheduled = false;

  constructor(
    private readonly run: (items: readonly I[]) => Promise<readonly O[]>,
    private readonly max: number,
    private readonly schedule: (flush: () => void) => void = setImmediate,
    private readonly inFlight = Infinity,
  ) {}

  push(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => this.enqueue(item, resolve, reject));
  }

  /**
   * `push` as an Observable, without a promise per item: each subscription pushes the item, and
   * its result (one value, then complete) or its call's error comes in the turn the call is
   * answered, with the other items of that call. A result that comes after the subscriber
   * unsubscribed is dropped. For the floods of a mass failover (an entry read, a lock read and a
   * claim per stream), where a promise, its microtask and an Observable over it cost more per
   * item than the item's share of the call.
   */
  observe(item: I): Observable<O> {
    return new Observable<O>((subscriber) => {
      this.enqueue(
        item,
        (result) => {
          subscriber.next(result);
          subscriber.complete();
        },
        (err) => subscriber.error(err),
      );
    });
  }

  private enqueue(item: I, resolve: (o: O) => void, reject: (err: unknown) => void): void {
    this.queue.push({ item, resolve, reject });
    if (this.scheduled || this.running >= this.inFlight) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** Starts calls while fewer than `inFlight` run; each call that ends starts the next. */
  private flush(): void {
    while (this.head < this.queue.length && this.running < this.inFlight) {
      const chunk = this.queue.slice(this.head, this.head + this.max);
      this.head += chunk.length;
      // Let the items already sent go once they are most of the array (all of it, when all were sent).
      if (this.head > this.queue.length / 2) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.running++;
      const next = (): void => {
        this.running--;
        this.flush();
      };
      // The items are settled in this turn (an `observe` subscriber's code runs inside it); the next call starts even if that code throws.
      const settle = (each: () => void): void => {
        try {
          each();
        } finally {
          next();
        }
      };
      const rejectAll = (err: unknown): void => {
        for (const q of chunk) q.reject(err);
      };
      this.run(chunk.map((q) => q.item)).then(
        (results) =>
          settle(() =>
            results.length === chunk.length
              ? chunk.forEach((q, i) => q.resolve(results[i]!))
              : rejectAll(new Error(`Batch returned ${results.length} results for ${chunk.length} items`)),
          ),
        (err: unknown) => settle(() => rejectAll(err)),
      );
    }
  }
}
