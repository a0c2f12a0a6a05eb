import { OperatorFunction, mergeMap } from 'rxjs';
import { LockStatus } from '../redis/scripts';
import type { AdditionalInfo, LbsInfo, StreamDisowned } from '../types';

/** One lock's outcome in a heartbeat tick. */
export interface HeartbeatResult {
  readonly payload: LbsInfo;
  readonly additionalInfo: AdditionalInfo;
  readonly status: LockStatus;
}

/**
 * Turns each heartbeat tick's results into one `StreamDisowned` per lock found held by another consumer.
 * Extended and re-taken locks stay owned and emit nothing.
 *
 * ## Example
 * ```ts
 * heartbeatResults$.pipe(toDisowned()) // StreamDisowned for every lost lock
 * ```
 */
export function toDisowned(): OperatorFunction<readonly HeartbeatResult[], StreamDisowned> {
  return mergeMap((results) =>
    results
      .filter((r) => r.status === LockStatus.Lost)
      .map((r): StreamDisowned => ({ type: 'StreamDisowned', payload: r.payload, additionalInfo: r.additionalInfo })),
  );
}
