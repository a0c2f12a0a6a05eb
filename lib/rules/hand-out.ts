import type { BadEntry, LbsEntry, RawEntry } from '../codecs/lbs-message';
import type { TakeResult } from '../port';

/** What the hand-out does with each decoded entry of a batch, once the lock script answered. */
export interface SortedTakes {
  /** Locked for this consumer: announce them (`StreamAdded`). */
  readonly taken: readonly LbsEntry[];
  /** Another unfinished entry handles the same data stream: dead-letter them with this reason. */
  readonly duplicates: readonly BadEntry[];
  /** Held by another consumer, or no longer pending for this one (a late read reply): left alone. */
  readonly refused: readonly LbsEntry[];
}

/**
 * Sorts the decoded entries of a batch by the lock script's result for each (same order). Pure.
 *
 * @example
 * sortTakes([e1, e2], [{ kind: 'taken' }, { kind: 'duplicate', of: '1-0' }], batch)
 * // { taken: [e1], duplicates: [{ entry: raw2, reason: 'duplicate: data stream "s" is already handled by LBS entry 1-0' }], refused: [] }
 */
export const sortTakes = (good: readonly LbsEntry[], results: readonly TakeResult[], batch: readonly RawEntry[]): SortedTakes => {
  const taken: LbsEntry[] = [];
  const duplicates: BadEntry[] = [];
  const refused: LbsEntry[] = [];
  good.forEach((entry, i) => {
    const result = results[i]!;
    if (result.kind === 'taken') taken.push(entry);
    else if (result.kind !== 'duplicate') refused.push(entry);
    else {
      const raw = batch.find((e) => e.id === entry.payload.idInLbs)!;
      duplicates.push({ entry: raw, reason: `duplicate: data stream "${entry.payload.dataStreamName}" is already handled by LBS entry ${result.of}` });
    }
  });
  return { taken, duplicates, refused };
};
