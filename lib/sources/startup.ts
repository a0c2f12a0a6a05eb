import { EMPTY, Observable, catchError, concat, defer, forkJoin, ignoreElements, map, of, switchMap, tap, throwError } from 'rxjs';
import type { ClientDeps } from '../deps';
import { ClientClosedError, KeyspaceConfigError, asRedisError } from '../errors';
import type { LbsSession } from '../port';
import { mergeKeyspaceFlags } from '../rules/keyspace-flags';

type Deps = Pick<ClientDeps, 'service' | 'keys' | 'port' | 'ledger' | 'options' | 'log'>;

const KEYSPACE_EVENTS = 'notify-keyspace-events';

/**
 * Makes `notify-keyspace-events` include `K` and `x` (or sets exactly `Kx` with
 * `forceConfigOverride`), keeping every flag another application set. Where CONFIG is refused it
 * warns, once until it succeeds again, and completes: the client goes on (expiries are then only
 * found by the reaper, the reconciler and recovery). Used at start-up, on NOGROUP and at every
 * reconciler turn; never errors.
 */
export const keyspaceFlags = ({ port, options, log, keyspaceEvents = 'Kx' }: Pick<ClientDeps, 'port' | 'options' | 'log' | 'keyspaceEvents'>): Observable<never> => {
  let refused = false;
  return defer(() =>
    port.getConfig(KEYSPACE_EVENTS).pipe(
      switchMap((current) => {
        const wanted = options.forceConfigOverride ? keyspaceEvents : mergeKeyspaceFlags(current, keyspaceEvents);
        if (wanted === current) return EMPTY;
        return port.setConfig(KEYSPACE_EVENTS, wanted).pipe(tap(() => log.info({ from: current, to: wanted }, 'set notify-keyspace-events')));
      }),
      tap({ complete: () => (refused = false) }),
      catchError((cause: unknown) => {
        if (!refused) {
          const err = new KeyspaceConfigError(
            "Could not make notify-keyspace-events include K and x (CONFIG refused). Set it on the server (redis.conf or your provider's console), or expiries will only be found by recovery.",
            { cause },
          );
          log.warn({ err }, err.message);
        }
        refused = true;
        return EMPTY;
      }),
      ignoreElements(),
    ),
  );
};

/** Creates the consumer group and the service's epoch if missing; the first epoch seen is the ledger's. */
export const ensureGroup = ({ port, ledger }: Pick<ClientDeps, 'port' | 'ledger'>): Observable<never> =>
  port.createGroup().pipe(
    tap((epoch) => {
      if (ledger.epoch === '') ledger.epoch = epoch;
    }),
    ignoreElements(),
  );

/** Locks are volatile keys: a `volatile-*` or `allkeys-*` policy can evict them, which fires no `expired` event. */
const warnIfLocksCanBeEvicted = ({ port, log }: Deps): Observable<never> =>
  forkJoin([port.getConfig('maxmemory'), port.getConfig('maxmemory-policy')]).pipe(
    map(([maxmemory, policy]) => ({ maxmemory: Number(maxmemory || 0), policy: policy || 'noeviction' })),
    tap(({ maxmemory, policy }) => {
      if (maxmemory === 0 || policy === 'noeviction') return;
      log.warn({ maxmemory, policy }, `maxmemory-policy ${policy} can evict lock keys (no expired event is sent for them; the reconciler finds them later). Prefer noeviction for this Redis.`);
    }),
    catchError(() => EMPTY),
    ignoreElements(),
  );

/**
 * Start-up, before any source runs: keyspace flags, the eviction warning, the consumer group and
 * epoch, then the reader's connection. Completes empty when ready; errors with a typed error
 * (`ClientClosedError` after `done()`/`shutdown()`, `RedisCommandError`).
 */
export const startup$ = (deps: Deps & { readonly session: Pick<LbsSession, 'openReader'>; readonly flags: Observable<never>; readonly isClosed: () => boolean }): Observable<never> => {
  const { service, keys, port, options, log, session } = deps;
  return defer(() =>
    deps.isClosed()
      ? throwError(() => new ClientClosedError())
      : concat(
          deps.flags,
          warnIfLocksCanBeEvicted(deps),
          ensureGroup(deps).pipe(catchError((err: unknown) => throwError(() => asRedisError(`Creating consumer group ${keys.group}`)(err)))),
          session.openReader(options.hbInterval).pipe(catchError((err: unknown) => throwError(() => asRedisError('Opening the LBS reader connection')(err)))),
          of(undefined).pipe(tap(() => log.info({ consumer: port.consumer, service, hbInterval: options.hbInterval }, 'client started'))),
        ).pipe(ignoreElements()),
  );
};
