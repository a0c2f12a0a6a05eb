import * as A from 'fp-ts/Array';
import { OperatorFunction, map } from 'rxjs';
import { BadEntry, LbsEntry, RawEntry, decodeLbsEntry } from '../codecs/lbs-message';

/** A batch of LBS entries split into those to hand out and those to dead-letter. */
export interface DecodedBatch {
  readonly good: readonly LbsEntry[];
  readonly bad: readonly BadEntry[];
}

/** Splits a batch of raw entries (pure; order kept within each side). */
export const partitionEntries = (entries: readonly RawEntry[], maxEntryBytes: number): DecodedBatch => {
  const { left, right } = A.separate(entries.map((e) => decodeLbsEntry(e, maxEntryBytes)));
  return { good: right, bad: left };
};

/**
 * Decodes each batch the LBS reader returns; one bad entry never stops the batch.
 *
 * ## Example
 * ```ts
 * batches$.pipe(decodeEntries(1024 * 1024)) // { good: [...], bad: [{ entry, reason }] }
 * ```
 */
export function decodeEntries(maxEntryBytes: number): OperatorFunction<readonly RawEntry[], DecodedBatch> {
  return map((entries) => partitionEntries(entries, maxEntryBytes));
}
