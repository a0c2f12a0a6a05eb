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
  private readonly heardAt = new Map<string, number>();

  constructor(
    private readonly now: () => number,
    private readonly keepMs: number,
  ) {}

  heard(info: LbsInfo): void {
    const at = this.now();
    const key = ExpiryClock.key(info);
    this.heardAt.delete(key);
    this.heardAt.set(key, at);
    // Insertion order is time order: forget from the oldest.
    for (const [k, t] of this.heardAt) {
      if (this.heardAt.size <= MAX_HEARD && t >= at - this.keepMs) break;
      this.heardAt.delete(k);
    }
  }

  /** Ms since the expiry of this entry was heard (undefined if it was not, or too long ago); forgets it. */
  since(info: LbsInfo): number | undefined {
    const key = ExpiryClock.key(info);
    const at = this.heardAt.get(key);
    this.heardAt.delete(key);
    if (at === undefined) return undefined;
    const elapsed = this.now() - at;
    return elapsed <= this.keepMs ? elapsed : undefined;
  }

  private static key(info: LbsInfo): string {
    return `${info.idInLbs} ${info.dataStreamName}`;
  }
}
