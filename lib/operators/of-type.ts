import { OperatorFunction, filter } from 'rxjs';
import type { OwnershipNotification } from '../types';

/**
 * Lets through the notifications of the given types, with the type narrowed to match. Works on
 * `init()`'s notifications and on what `claimExpired` emits (`StreamClaimed` too).
 *
 * ## Example
 * ```ts
 * client.init().pipe(ofType('StreamExpired'), mergeMap((n) => client.claim(n.payload)))
 * ```
 */
export function ofType<K extends OwnershipNotification['type']>(
  ...types: readonly [K, ...K[]]
): OperatorFunction<OwnershipNotification, Extract<OwnershipNotification, { type: K }>> {
  return filter((n): n is Extract<OwnershipNotification, { type: K }> => (types as readonly string[]).includes(n.type));
}
