import type { LbsInfo } from '../types';

/** Expiries remembered at most; the oldest are forgotten first. */
const MAX_HEARD = 10_000;

/**
 * When this consumer heard each lock of another consumer expire (`StreamExpired`), so that a claim
 * it wins can tell how long the take-over took (`metrics.recordTakeover`). An expiry is forgotten
 * at the first claim of its entry, won or lost, or after `keepMs`.
 *
 * ## Example
 * ```ts
 * const clock = new ExpiryClock(() => scheduler.now(), 40_000);
 * clock.heard({ dataStreamName: 's1', idInLbs: '1-0' });
 * clock.since({ dataStreamName: 's1', idInLbs: '1-0' }); // ms since it was heard, then forgotten
 * ```
 */
export class ExpiryClock {
  private readonly heardAt = new Map<string, { readonly at: number; readonly seq: number }>();
  /** Every `heard`, oldest first from `head`: what to forget first, without iterating the map (slow after many deletes). */
  private queue: { readonly key: string; readonly at: number; readonly seq: number }[] = [];
  private head = 0;
  private seq = 0;

  constructor(
    private readonly now: () => number,
    private readonly keepMs: number,
  ) {}

  heard(info: LbsInfo): void {
    const at = this.now();
    const key = ExpiryClock.key(info);
    const seq = this.seq++;
    this.heardAt.set(key, { at, seq });
    this.queue.push({ key, at, seq });
    // The queue is in time order: forget from the oldest (entries heard again or claimed since are skipped).
    while (this.head < this.queue.length) {
      const oldest = this.queue[this.head]!;
      const current = this.heardAt.get(oldest.key);
      if (current !== undefined && current.seq === oldest.seq && this.heardAt.size <= MAX_HEARD && oldest.at >= at - this.keepMs) break;
      if (current?.seq === oldest.seq) this.heardAt.delete(oldest.key);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  /** Ms since the expiry of this entry was heard (undefined if it was not, or too long ago); forgets it. */
  since(info: LbsInfo): number | undefined {
    const key = ExpiryClock.key(info);
    const heard = this.heardAt.get(key);
    this.heardAt.delete(key);
    if (heard === undefined) return undefined;
    const elapsed = this.now() - heard.at;
    return elapsed <= this.keepMs ? elapsed : undefined;
  }

  private static key(info: LbsInfo): string {
    return `${info.idInLbs} ${info.dataStreamName}`;
  }
}
