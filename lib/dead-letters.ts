import { Observable, defer, ignoreElements } from 'rxjs';
import type { BadEntry } from './codecs/lbs-message';
import type { ClientDeps } from './deps';
import { InvalidLbsMessageError } from './errors';

/**
 * Moves refused LBS entries to `<service>-dead` with their reason (then XACK + XDEL them), logs
 * each as an `InvalidLbsMessageError` and counts it (`metrics.recordDeadLetter`). Used by the
 * hand-out, the recovery sweep and the reconciler.
 */
export const deadLetter$ = ({ port, keys, log, metrics }: Pick<ClientDeps, 'port' | 'keys' | 'log' | 'metrics'>, bad: readonly BadEntry[]): Observable<never> =>
  defer(() => {
    for (const { entry, reason } of bad) {
      const err = new InvalidLbsMessageError(entry.id, reason);
      log.warn({ err, id: entry.id, reason, deadLetter: keys.dead }, 'invalid LBS entry moved to the dead-letter stream');
      metrics.recordDeadLetter?.(reason);
    }
    return port.deadLetter(bad);
  }).pipe(ignoreElements());
