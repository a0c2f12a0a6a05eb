import { Observable, Unsubscribable, concat, merge, share, takeUntil, using } from 'rxjs';
import type { ClientDeps, PartitionDeps } from './deps';
import type { LbsSession } from './port';
import { heartbeat$ } from './sources/heartbeat';
import { keyspaceExpiries$ } from './sources/keyspace-expiries';
import { lbsEntries$ } from './sources/lbs-entries';
import { lockReaper$ } from './sources/lock-reaper';
import { reconciler$ } from './sources/reconciler';
import { recoverySweep$ } from './sources/recovery-sweep';
import { ensureGroup, keyspaceFlags, startup$ } from './sources/startup';
import type { Notification } from './types';

/** The service's partitions; one (the whole service) when the deps name none. */
const partitionsOf = (deps: ClientDeps): readonly PartitionDeps[] =>
  deps.partitions ?? [{ index: 0, keys: deps.keys, port: deps.port, sessionOf: (session) => session }];

/** How the client ends its notifications: `stop$` emits at `done()` / `shutdown()`; `isClosed` refuses a new session after. */
export interface Lifecycle {
  readonly stop$: Observable<unknown>;
  readonly isClosed: () => boolean;
}

/**
 * The one notification stream of a consumer, and the map of the library. Each subscription opens
 * a session (the blocking reader's and the subscriber's connections), runs start-up, then merges
 * every source:
 *
 * | source | Redis mechanism | emits |
 * | --- | --- | --- |
 * | `keyspaceExpiries$` | keyspace notifications (PSUBSCRIBE) | `StreamExpired` |
 * | `lockReaper$` | deadlines + touching overdue consumers' locks | nothing (makes `expired` go out on time) |
 * | `recoverySweep$` | XPENDING + the claim script, every `lbsIdleTime` | `StreamAdded` |
 * | `reconciler$` | guard key, CONFIG, one XPENDING page + the claim script | `StreamAdded` |
 * | `lbsEntries$` | XREADGROUP BLOCK on its own connection + the lock script | `StreamAdded` |
 * | `heartbeat$` | the extension script, and a local verdict without Redis | `StreamDisowned` |
 *
 * Every source but the heartbeat runs once per LBS partition, on that partition's keys (one
 * partition in the Go layout; see `partitions` in `deps.ts`).
 *
 * It completes when `stop$` emits and errors with a typed error when start-up fails or the reader
 * gives up. `share()` keeps its default resets on purpose: when the last subscriber leaves, or
 * the stream completes or errors, every source is unsubscribed and the session closed (timers
 * stopped, connections closed, so the process can exit); the next subscriber starts a new session.
 */
export const notifications$ = (deps: ClientDeps, { stop$, isClosed }: Lifecycle): Observable<Notification> => {
  const { port, options, log } = deps;
  const flags = keyspaceFlags(deps);
  const recreateGroup = concat(ensureGroup(deps), flags);
  const openSession = (): LbsSession & Unsubscribable => port.openSession((role, err) => log.debug({ err, role }, 'connection error'));
  return using(openSession, (resource) => {
    const session = resource as LbsSession;
    return concat(
      startup$({ ...deps, session, flags, isClosed }),
      merge(
        ...partitionsOf(deps).map((part) => {
          const local = { ...deps, keys: part.keys, port: part.port, belongsHere: part.belongsHere };
          const own = part.sessionOf(session);
          const recreate = partitionsOf(deps).length === 1 ? recreateGroup : concat(ensureGroup(local), flags);
          return merge(
            keyspaceExpiries$({ ...local, session: own }),
            lockReaper$(local),
            recoverySweep$(local),
            reconciler$({ ...local, flags }),
            lbsEntries$({ ...local, session: own, recreateGroup: recreate }),
          );
        }),
        heartbeat$({ ...deps, periodMs: options.hbInterval / 2 }),
      ),
    );
  }).pipe(takeUntil(stop$), share());
};
