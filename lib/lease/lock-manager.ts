import { Observable, SchedulerLike, catchError, defer, map, of, tap, timeout } from 'rxjs';
import type { LbsPort } from '../port';
import { LockStatus } from '../port';
import { assumeLost } from '../rules/assume-lost';
import type { Logger, MetricsRecorder } from '../types';
import type { Fleet } from './fleet';
import type { Lease, LeaseLedger } from './ledger';

export interface LockManagerDeps {
  readonly ledger: LeaseLedger;
  readonly port: Pick<LbsPort, 'extendLocks'>;
  /** Lock TTL = hbInterval, ms; the heartbeat ticks every ttl / 2. */
  readonly ttl: number;
  readonly scheduler: SchedulerLike;
  readonly log: Logger;
  readonly metrics: MetricsRecorder;
  /** The fleet: its member record goes with every extension (also with no lock), and it is given the registry read back. */
  readonly fleet?: Pick<Fleet, 'member' | 'observe'>;
}

/** What one extension found: the leases Redis says are lost, and locks kept alive for leases dropped meanwhile. */
export interface Extended {
  readonly lost: readonly Lease[];
  /** Leases dropped while the tick was in flight (done, released, assumed lost) whose lock the tick kept alive: let them expire now. */
  readonly strays: readonly Lease[];
}

const NOTHING: Extended = { lost: [], strays: [] };

/**
 * Keeps this consumer's locks alive: `extend()` extends every owned lock in one round trip per
 * chunk and reads the answer; `judge()` decides without Redis which leases must be assumed lost.
 * It owns the heartbeat's clock (when the last tick ran, since when extensions have been failing).
 */
export class LockManager {
  private lastTickAt: number;
  private failingSince: number | undefined;

  constructor(private readonly deps: LockManagerDeps) {
    this.lastTickAt = deps.scheduler.now();
  }

  /**
   * Extends every owned lock. An extension Redis has not answered within one TTL is abandoned,
   * and its late answer ignored (`judge` decides meanwhile); a failed one is logged. Never errors.
   */
  extend(): Observable<Extended> {
    const { ledger, port, ttl, scheduler, log, metrics, fleet } = this.deps;
    let tick = { locks: 0, at: 0 };
    return defer(() => {
      const sent = ledger.all();
      const sentAt = scheduler.now();
      tick = { locks: sent.length, at: sentAt };
      if (sent.length === 0 && fleet === undefined) return of({ sent, sentAt, statuses: [] as readonly LockStatus[], fences: undefined as readonly (number | undefined)[] | undefined, epoch: ledger.epoch, members: undefined, now: undefined });
      if (sent.length > 0) this.failingSince ??= sentAt;
      return port.extendLocks(sent.map((l) => l.lockKey), ledger.epoch, sent.map((l) => l.fence), fleet?.member()).pipe(
        map(({ statuses, fences, epoch, members, now }) => ({ sent, sentAt, statuses, fences, epoch, members, now })),
      );
    }).pipe(
      timeout({ first: ttl, scheduler }),
      tap(() => {
        if (tick.locks > 0) metrics.recordHeartbeat?.(tick.locks, true, scheduler.now() - tick.at);
      }),
      map(({ sent, sentAt, statuses, fences, epoch, members, now }) => {
        const extended = this.apply(sent, statuses, sentAt, epoch, fences);
        if (fleet !== undefined && members !== undefined && now !== undefined) fleet.observe(members, now);
        return extended;
      }),
      catchError((err: unknown) => {
        if (tick.locks > 0) metrics.recordHeartbeat?.(tick.locks, false, scheduler.now() - tick.at);
        log.warn({ err, owned: ledger.size }, 'heartbeat failed; retrying at the next tick');
        return of(NOTHING);
      }),
    );
  }

  /** What a heartbeat's answer means for each lock: confirmed, re-taken, or lost (StreamDisowned). */
  private apply(sent: readonly Lease[], statuses: readonly (LockStatus | undefined)[], sentAt: number, epoch: string | undefined, fences: readonly (number | undefined)[] = []): Extended {
    const { ledger, log, metrics } = this.deps;
    if (epoch !== undefined) ledger.epoch = epoch;
    const lost: Lease[] = [];
    const strays: Lease[] = [];
    const confirmed: Lease[] = [];
    let unanswered = 0;
    sent.forEach((lease, i) => {
      const status = statuses[i];
      // No answer for this lock (its Cluster node failed): judged by its last confirmation.
      if (status === undefined) return void unanswered++;
      const name = lease.payload.dataStreamName;
      metrics.recordLockExtensionAttempt?.(name, status !== LockStatus.Lost);
      if (!ledger.isCurrent(lease)) {
        // Kept alive for a stream dropped meanwhile: expire it. A handed-back lock is release()'s
        // to expire, unless the extension re-created it after release() let it go.
        if (status === LockStatus.Retaken || (status !== LockStatus.Lost && !ledger.isHandedBack(lease.lockKey))) strays.push(lease);
      } else if (status === LockStatus.Lost) {
        ledger.drop(lease);
        log.warn({ stream: name }, 'stream disowned: another consumer holds its lock, or took over its entry');
        lost.push(lease);
      } else {
        if (status === LockStatus.Retaken) {
          const fence = fences[i];
          if (fence !== undefined) ledger.refence(lease, fence);
          log.info({ stream: name, fence }, 're-took a lock that had vanished');
        }
        confirmed.push(lease);
      }
    });
    ledger.confirm(confirmed, sentAt);
    if (strays.length > 0) log.debug({ streams: strays.length }, 'locks kept alive for streams dropped meanwhile: expiring them');
    if (unanswered === 0) this.failingSince = undefined;
    else log.warn({ streams: unanswered, owned: ledger.size }, 'heartbeat: Redis did not answer for some locks (a node failed); retrying at the next tick');
    return lost.length === 0 && strays.length === 0 ? NOTHING : { lost, strays };
  }

  /** At every tick, without Redis: the leases whose locks could not be extended for longer than their TTL are lost. */
  judge(): readonly Lease[] {
    const { ledger, ttl, scheduler, log } = this.deps;
    const now = scheduler.now();
    const lost = assumeLost(ledger.all(), now, ttl, ttl / 2, { lastTickAt: this.lastTickAt, failingSince: this.failingSince });
    if (now - this.lastTickAt > ttl) this.failingSince = undefined;
    this.lastTickAt = now;
    if (lost.length === 0) return lost;
    for (const lease of lost) ledger.drop(lease);
    log.warn({ streams: lost.length }, 'Redis has not confirmed these locks for longer than their TTL: assuming the streams lost');
    return lost;
  }
}
