import type { ObservableInput } from 'rxjs';

/**
 * One entry of a data stream, as `consumeStream` hands it to the handler. Field values are decoded as UTF-8.
 * @example
 * const handle = async (entry: StreamEntry) => console.log(entry.id, entry.fields.type);
 * consumeStream(client, stream, handle).subscribe();
 */
export interface StreamEntry {
  /** The entry's id in its data stream (`<ms>-<seq>`). */
  readonly id: string;
  readonly fields: Record<string, string>;
}

/**
 * What the handler of one entry is given beside the entry.
 * @example
 * consumeStream(client, stream, (entry, ctx: EntryContext) => (entry.fields.bad ? ctx.deadLetter('unreadable') : of(ctx.fence))).subscribe();
 */
export interface EntryContext {
  /** The data stream being read. */
  readonly dataStreamName: string;
  /** The LBS entry in charge of the data stream. */
  readonly idInLbs: string;
  /**
   * The stream's fencing token: it grows strictly every time a consumer of the service takes the
   * stream (hand-out, claim, recovery, reconciler, heartbeat re-take). Store it with every write
   * the handler makes, and refuse a write whose fence is lower than one already stored: a stale
   * owner's write is then refused downstream too.
   */
  readonly fence: number;
  /**
   * Marks the entry as poison: once the handler completes, the entry is copied to
   * `<service>-dead` (fields `data-stream`, `entry-id`, `reason`, `consumer`, then the entry's own
   * fields) and committed past. Returns an empty Observable, so a handler may `return ctx.deadLetter('why')`.
   */
  deadLetter(reason: string): ObservableInput<never>;
}

/**
 * Handles one entry; the next entry of the stream starts when the returned ObservableInput completes.
 * A handler whose work is done when it returns (synchronous) returns `EMPTY`: the next entry then
 * starts at once, and nothing is subscribed (the cheapest handler).
 * @example
 * const handle: EntryHandler = async (entry, ctx) => console.log(ctx.dataStreamName, entry.id, 'fence', ctx.fence);
 * consumeStream(client, stream, handle).subscribe();
 * const count: EntryHandler = () => (handled++, EMPTY); // synchronous: nothing to wait for
 */
export type EntryHandler = (entry: StreamEntry, ctx: EntryContext) => ObservableInput<unknown>;

/**
 * When handled entries are committed: after `entries` of them, or `ms` after the first uncommitted one, whichever comes first.
 * @example
 * const commitEvery: CommitEvery = { entries: 500, ms: 20 }; // commit after 500 entries or 20 ms
 * consumeStream(client, stream, handle, { commitEvery }).subscribe();
 */
export interface CommitEvery {
  /** Most entries handled and not yet committed; also the most a crash can make the next owner handle twice. Default 100. */
  readonly entries?: number;
  /** Longest time a handled entry stays uncommitted, in ms. Default 50. */
  readonly ms?: number;
}

/**
 * Options of `consumeStream`.
 * @example
 * const config: ConsumeStreamConfig = { until: (entry) => entry.fields.type === 'end', readCount: 100 };
 * consumeStream(client, stream, handle, config).subscribe();
 */
export interface ConsumeStreamConfig {
  /** The last entry of the stream: after it is handled and committed, `consumeStream` completes. Default: never (wait for new entries). */
  readonly until?: (entry: StreamEntry) => boolean;
  /** Commit batching (see `CommitEvery`). Commits are always flushed before completion, `release`, `shutdown` and `done`. */
  readonly commitEvery?: CommitEvery;
  /** Most entries read ahead and buffered for this stream (XREAD COUNT). Default 10. */
  readonly readCount?: number;
}
