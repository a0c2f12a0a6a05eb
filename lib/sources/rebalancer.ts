import { EMPTY, Observable, catchError, concat, from, ignoreElements, mergeMap, of } from 'rxjs';
import type { ClientDeps } from '../deps';
import { HOLD_HEARTBEATS, type Fleet, type HandOver } from '../lease/fleet';
import { release } from '../lease/commands';
import { FleetView, pickHandBacks } from '../rules/balance';
import type { StreamReleased } from '../types';

export interface RebalancerDeps extends Pick<ClientDeps, 'port' | 'ledger' | 'options' | 'scheduler' | 'log' | 'metrics' | 'lockKeyOf'> {
  readonly fleet: Pick<Fleet, 'views$' | 'excess' | 'view'>;
  /** The streams being consumed (absent: none is). */
  readonly handOver?: HandOver;
}

/**
 * The rebalancer: at every snapshot of the fleet the heartbeat reads, a consumer holding more
 * than its fair share (plus the tolerance) hands back the excess, at most `rebalanceBatch` per
 * heartbeat, streams held longest first and none that moved here (a claim, a sweep) less than
 * `HOLD_HEARTBEATS` heartbeats ago; after a hand-back it waits for a snapshot in which every member has written its record
 * since (the streams on their way are then counted where they arrived). A stream being consumed is handed over at its consumer's next commit (`processStreams`
 * reports `Rebalanced`); with `rebalance: true` the others are released at once, each announced
 * first by `StreamReleased` (reason 'rebalance') so the application stops working on it before
 * anyone else can take it. Emits those notifications; a failed release is logged (the lock then
 * lapses within a TTL).
 */
export const rebalancer$ = (deps: RebalancerDeps): Observable<StreamReleased> => {
  const { fleet, ledger, options, scheduler, log, metrics, handOver } = deps;
  const holdMs = HOLD_HEARTBEATS * options.hbInterval;
  /** Streams asked to hand back at their next commit, not dropped yet. */
  const pending = new Set<string>();
  const eligible = (name: string): boolean => !pending.has(name) && (options.rebalance === true || handOver?.isConsuming(name) === true);

  const handBack = (name: string): Observable<StreamReleased> => {
    const lease = ledger.get(name);
    if (lease === undefined) return EMPTY;
    metrics.recordStreamReleased?.(name, 'rebalance');
    if (handOver?.isConsuming(name) && handOver.handBack(name)) {
      pending.add(name);
      return EMPTY;
    }
    const released: StreamReleased = { type: 'StreamReleased', payload: lease.payload, reason: 'rebalance', additionalInfo: lease.additionalInfo };
    return concat(
      of(released),
      release(deps, name).pipe(
        ignoreElements(),
        catchError((err: unknown) => {
          log.warn({ err, stream: name }, 'could not hand a stream back for balance; its lock lapses');
          return EMPTY;
        }),
      ),
    );
  };

  /** The snapshot (Redis clock) of the last hand-back: the next one waits until every member wrote its record since, so that streams on their way are counted. */
  let handedBackAt = -Infinity;
  const fresh = (view: FleetView): boolean => [...view.settled.values()].every((m) => m.name === deps.port.consumer || m.seenAt > handedBackAt);

  return fleet.views$.pipe(
    mergeMap((view) => {
      for (const name of pending) if (ledger.get(name) === undefined) pending.delete(name);
      if (!fresh(view)) return EMPTY;
      const count = fleet.excess(pending.size);
      if (count === 0) return EMPTY;
      const held = ledger.all().map((l) => ({ name: l.payload.dataStreamName, since: l.since.getTime(), movedIn: l.movedIn }));
      const picked = pickHandBacks(held, count, scheduler.now(), holdMs, eligible);
      if (picked.length === 0) return EMPTY;
      handedBackAt = view.at;
      const share = fleet.view?.shares.get(deps.port.consumer);
      log.info({ handingBack: picked.length, owned: ledger.size, share: share === undefined ? undefined : Math.round(share) }, 'handing streams back for balance');
      return from(picked).pipe(mergeMap(handBack));
    }),
  );
};
