import { OperatorFunction, mergeMap } from 'rxjs';
import type { AdditionalInfo, LbsInfo, StreamDisowned } from '../types';

/**
 * Turns each batch of streams this consumer lost (its heartbeat found them held by another
 * consumer, or it assumed them lost without Redis) into one `StreamDisowned` per stream.
 *
 * ## Example
 * ```ts
 * lostPerTick$.pipe(toDisowned()) // StreamDisowned for every lost stream, in order
 * ```
 */
export function toDisowned(): OperatorFunction<readonly { readonly payload: LbsInfo; readonly additionalInfo: AdditionalInfo }[], StreamDisowned> {
  return mergeMap((lost) => lost.map((l): StreamDisowned => ({ type: 'StreamDisowned', payload: l.payload, additionalInfo: l.additionalInfo })));
}
