import { OperatorFunction, filter } from 'rxjs';
import type { Notification, NotificationType } from '../types';

/**
 * Lets through the notifications of the given types, with the type narrowed to match.
 *
 * ## Example
 * ```ts
 * client.init().pipe(ofType('StreamExpired'), mergeMap((n) => client.claim(n.payload)))
 * ```
 */
export function ofType<K extends NotificationType>(...types: readonly [K, ...K[]]): OperatorFunction<Notification, Extract<Notification, { type: K }>> {
  return filter((n): n is Extract<Notification, { type: K }> => (types as readonly string[]).includes(n.type));
}
