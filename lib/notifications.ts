import { Observable, Unsubscribable, concat, merge, share, takeUntil, using } from 'rxjs';
import type { Notification, StreamAdded, StreamDisowned, StreamExpired } from './types';

/** The sources one consumer's notification stream is made of. */
export interface NotificationSources {
  /** Keyspace flags, consumer group, reader connection: completes empty when ready, errors if start-up fails. */
  readonly startup$: Observable<never>;
  /** Keyspace expiries of this service's locks (PSUBSCRIBE). */
  readonly expired$: Observable<StreamExpired>;
  /** Overdue locks touched on time, so that their `expired` event goes out now; emits nothing itself. */
  readonly reaped$: Observable<never>;
  /** Entries whose owner is gone, taken at start-up and then every `lbsIdleTime` (XPENDING + guarded XCLAIM). */
  readonly recovered$: Observable<StreamAdded>;
  /** Pending entries with no lock at all, one page per `reconcileInterval`; keyspace flags restored. */
  readonly reconciled$: Observable<StreamAdded>;
  /** New LBS entries, read with XREADGROUP and locked (errors when the reader runs out of retries). */
  readonly added$: Observable<StreamAdded>;
  /** Locks the heartbeat found held by another consumer. */
  readonly disowned$: Observable<StreamDisowned>;
}

/**
 * `notifications$`: open the session's connections, start up, then merge every source. It
 * completes when `stop$` emits (`done()`) and errors with a typed error when start-up fails or
 * the reader gives up.
 *
 * `share()` keeps its default resets on purpose: when the last subscriber leaves, or the stream
 * completes or errors, every source is unsubscribed and the session closed (timers stopped,
 * connections closed, so the process can exit); the next subscriber starts a new session.
 */
export const notifications$ = <S extends Unsubscribable>(
  openSession: () => S,
  sourcesOf: (session: S) => NotificationSources,
  stop$: Observable<unknown>,
): Observable<Notification> =>
  using(openSession, (session) => {
    const sources = sourcesOf(session as S);
    return concat(sources.startup$, merge(sources.expired$, sources.reaped$, sources.recovered$, sources.reconciled$, sources.added$, sources.disowned$));
  }).pipe(takeUntil(stop$), share());
