import type { ConsumerEvent } from '../support/protocol';
import { shortName } from '../support/protocol';

/** How the entries of the data streams were handled (`handled` and `committed` lines of the consumers). */
export interface EntryAnalysis {
  /** entries of the data streams of the LBS entries checked (finished ones) */
  readonly expected: number;
  /** of these, handled at least once */
  readonly handled: number;
  /** handled by nobody, although their stream finished */
  readonly lost: number;
  readonly lostSample: string[];
  /** handlings beyond the first of an entry (for one LBS entry) */
  readonly twice: number;
  /** most entries one take of a stream (a process, a fence) left to be handled again */
  readonly maxRepeatedPerTake: number;
  /** the bound of that: one commit batch */
  readonly bound: number;
  /**
   * Entries handled again because the commit that covered them was acknowledged by a primary that
   * then failed before its replica had it (asynchronous replication): how many, and the longest
   * run of them in one take. Only where the fault can lose acknowledged writes.
   */
  readonly afterLostCommit: { readonly count: number; readonly maxPerTake: number };
  /** one take handled its entries out of stream order */
  readonly outOfOrder: string[];
  /** an entry handled again, after a consumer had reported it committed, by a take not older than the committer's */
  readonly repeatedAfterCommit: string[];
  readonly failures: string[];
}

/** Stream-id order: `<ms>-<seq>`. */
const compareIds = (a: string, b: string): number => {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am === bm ? (as === bs ? 0 : as < bs ? -1 : 1) : am < bm ? -1 : 1;
};

export interface EntryInput {
  /** the LBS entries to check (finished, not vanished, not dead-lettered): id -> data-stream name (short) */
  readonly checked: ReadonlyMap<string, string>;
  /** data stream (short name) -> the ids of its entries as written */
  readonly written: ReadonlyMap<string, readonly string[]>;
  /** every event of every consumer process, with its pid */
  readonly events: readonly (ConsumerEvent & { pid: number })[];
  /** commitEvery.entries of the consumers */
  readonly commitEntries: number;
  /**
   * A primary failed over in this window (ms): a commit reported in it may have been lost with the
   * primary, so the entries it covered may be handled again beyond the bound of one batch.
   */
  readonly commitsMayVanish?: { readonly from: number; readonly to: number };
}

/**
 * Every entry of a finished stream handled at least once; each take (one process, one fence) of a
 * stream handles its entries in order; an entry is handled again only if no consumer had reported
 * it committed (or by a stale take finishing what it held), and at most one commit batch per take
 * that another take followed.
 */
export const analyseEntries = ({ checked, written, events, commitEntries, commitsMayVanish }: EntryInput): EntryAnalysis => {
  const handlings = new Map<string, { entry: string; pid: number; fence: number; at: number }[]>();
  const commits = new Map<string, { entry: string; fence: number; at: number }[]>();
  for (const e of events) {
    // On a Cluster each partition has its own LBS, so two streams added in the same millisecond can
    // have the same LBS id: an event counts for the stream it names.
    if (e.id === undefined || !checked.has(e.id) || (e.stream !== undefined && e.stream !== shortName(checked.get(e.id)!))) continue;
    if (e.event === 'handled') handlings.set(e.id, [...(handlings.get(e.id) ?? []), { entry: e.entry, pid: e.pid, fence: e.fence, at: e.at }]);
    else if (e.event === 'committed') commits.set(e.id, [...(commits.get(e.id) ?? []), { entry: e.entry, fence: e.fence, at: e.at }]);
  }
  let expected = 0;
  let handled = 0;
  let twice = 0;
  let maxRepeatedPerTake = 0;
  const lostSample: string[] = [];
  const outOfOrder: string[] = [];
  const repeatedAfterCommit: string[] = [];
  let lost = 0;
  let afterLostCommit = 0;
  let maxAfterLostCommit = 0;
  /** The earliest commit reported of this entry (or of a later one), if any. */
  const coveringCommit = (id: string, entry: string) => (commits.get(id) ?? []).filter((c) => compareIds(c.entry, entry) >= 0).sort((a, b) => a.at - b.at)[0];
  for (const [id, name] of checked) {
    const ids = written.get(shortName(name)) ?? [];
    const hs = (handlings.get(id) ?? []).sort((a, b) => a.at - b.at);
    const seen = new Map<string, string>();
    const repeatedOf = new Map<string, number>();
    const lostCommitOf = new Map<string, number>();
    const lastOfTake = new Map<string, string>();
    const label = `${id} (${shortName(name).slice(0, 40)})`;
    for (const h of hs) {
      const take = `${h.pid}/${h.fence}`;
      const last = lastOfTake.get(take);
      if (last !== undefined && compareIds(h.entry, last) <= 0) outOfOrder.push(`${label}: ${h.entry} after ${last} in take ${take}`);
      lastOfTake.set(take, h.entry);
      const first = seen.get(h.entry);
      if (first === undefined) {
        seen.set(h.entry, take);
        continue;
      }
      twice++;
      const covering = coveringCommit(id, h.entry);
      if (commitsMayVanish !== undefined && covering !== undefined && covering.at >= commitsMayVanish.from && covering.at <= commitsMayVanish.to && covering.at < h.at) {
        // Its commit went to the primary that failed: lost with it, not a repeat the library chose.
        afterLostCommit++;
        lostCommitOf.set(take, (lostCommitOf.get(take) ?? 0) + 1);
        continue;
      }
      repeatedOf.set(first, (repeatedOf.get(first) ?? 0) + 1);
      // A take that began after the commit (a fence not lower than the committer's) must start after it;
      // a stale take (lower fence) finishing the entry it had in flight is the bounded case below.
      const committedBefore = (commits.get(id) ?? []).find((c) => c.at < h.at && compareIds(c.entry, h.entry) >= 0 && h.fence >= c.fence);
      if (committedBefore !== undefined) repeatedAfterCommit.push(`${label}: ${h.entry} handled again (take ${take}) after ${committedBefore.entry} was reported committed`);
    }
    for (const n of repeatedOf.values()) maxRepeatedPerTake = Math.max(maxRepeatedPerTake, n);
    for (const n of lostCommitOf.values()) maxAfterLostCommit = Math.max(maxAfterLostCommit, n);
    expected += ids.length;
    for (const entryId of ids) {
      if (seen.has(entryId)) handled++;
      else {
        lost++;
        if (lostSample.length < 5) lostSample.push(`${label} entry ${entryId}`);
      }
    }
  }
  const failures: string[] = [];
  if (lost > 0) failures.push(`entries lost ${lost}: ${lostSample.join(', ')}`);
  if (outOfOrder.length > 0) failures.push(`entries out of order: ${outOfOrder.slice(0, 3).join('; ')}`);
  if (repeatedAfterCommit.length > 0) failures.push(`entries handled again after their commit: ${repeatedAfterCommit.slice(0, 3).join('; ')}`);
  if (maxRepeatedPerTake > commitEntries) failures.push(`${maxRepeatedPerTake} entries of one take handled again > bound ${commitEntries} (one commit batch)`);
  return { expected, handled, lost, lostSample, twice, maxRepeatedPerTake, bound: commitEntries, afterLostCommit: { count: afterLostCommit, maxPerTake: maxAfterLostCommit }, outOfOrder, repeatedAfterCommit, failures };
};
