import { EMPTY, Observable, SchedulerLike, catchError, defer, finalize, map, of, tap, timeout } from 'rxjs';
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
 * Past this share of a heartbeat period (the oldest extension in flight unanswered for that long,
 * or the latest one answered that late) the heartbeat is strained: one more period and a lock's
 * confirmation is older than its TTL, and `judge` gives the stream up. Claims wait meanwhile.
 */
const STRAIN_OF_PERIOD = 0.75;
/** Strain that lasts longer than this many TTLs without a break is the link's steady state (a far Redis), not a burst: claims go on. */
const STRAIN_MAX_TTLS = 5;

/**
 * Keeps this consumer's locks alive: `extend()` extends every owned lock that no call in flight
 * covers, in one round trip per chunk, and reads the answer; `judge()` decides without Redis which
 * leases must be assumed lost. It owns the heartbeat's clock (when the last tick ran, since when
 * extensions have been failing).
 */
export class LockManager {
  private lastTickAt: number;
  /** The extensions in flight that carry locks: when each was sent, and its leases (each lease is in one call at most). */
  private readonly sending = new Set<{ readonly at: number; readonly leases: readonly Lease[] }>();
  /** The oldest failed extension (error, timeout, some locks unanswered) no later complete answer has made good: when it was sent, and when it failed. */
  private failed: { readonly sentAt: number; readonly at: number } | undefined;
  /** The end of the last pause longer than the TTL: calls sent before it say nothing about Redis now. */
  private resumedAt = -Infinity;
  /** How long the latest answered extension of some locks took (ms). */
  private lastAnswerMs = 0;
  /** Since when the heartbeat has been behind without a break (undefined: it is on time). */
  private strainedSince: number | undefined;
  /** The steady strain was logged (once per episode). */
  private toldSteady = false;

  constructor(private readonly deps: LockManagerDeps) {
    this.lastTickAt = deps.scheduler.now();
  }

  /**
   * Extends every owned lock that no extension in flight covers: all of them when none is in
   * flight; while one is (Redis is slow), only the leases taken since, so that a freshly claimed
   * lock is extended within a period and never lapses behind a slow call; nothing when there are
   * none (slow Redis never piles up calls). An extension Redis has not answered within one TTL is
   * abandoned, and its late answer ignored (`judge` decides meanwhile); a failed one is logged.
   * Never errors.
   */
  extend(): Observable<Extended> {
    const { ledger, port, ttl, scheduler, log, metrics, fleet } = this.deps;
    return defer(() => {
      // Usually no call is in flight at a tick, and every owned lease goes: no per-lease bookkeeping then.
      const busy = this.sending.size > 0;
      const inFlight = busy ? new Set([...this.sending].flatMap((c) => c.leases)) : undefined;
      const sent = inFlight === undefined ? ledger.all() : ledger.all().filter((l) => !inFlight.has(l));
      if (busy && sent.length === 0) return EMPTY;
      const sentAt = scheduler.now();
      if (sent.length === 0) this.lastAnswerMs = 0; // no locks to keep: nothing strained
      if (sent.length === 0 && fleet === undefined) {
        this.failed = undefined; // nothing owned, nothing failing
        return of(NOTHING);
      }
      const call = { at: sentAt, leases: sent };
      if (sent.length > 0) this.sending.add(call);
      const recordTick = (ok: boolean) => {
        if (sent.length === 0) return;
        const took = scheduler.now() - sentAt;
        if (ok) this.lastAnswerMs = took;
        metrics.recordHeartbeat?.(sent.length, ok, took);
      };
      return port.extendLocks(sent.map((l) => l.lockKey), ledger.epoch, sent.map((l) => l.fence), fleet?.member(), busy).pipe(
        timeout({ first: ttl, scheduler }),
        tap(() => recordTick(true)),
        map(({ statuses, fences, epoch, members, now }) => {
          this.sending.delete(call);
          const extended = this.apply(sent, statuses, sentAt, epoch, fences);
          if (fleet !== undefined && members !== undefined && now !== undefined) fleet.observe(members, now);
          return extended;
        }),
        catchError((err: unknown) => {
          recordTick(false);
          this.fail(sentAt);
          log.warn({ err, owned: ledger.size }, 'heartbeat failed; retrying at the next tick');
          return of(NOTHING);
        }),
        finalize(() => this.sending.delete(call)),
      );
    });
  }

  /** An extension sent at `sentAt` failed, or left some locks unanswered. */
  private fail(sentAt: number): void {
    if (sentAt < this.resumedAt) return;
    if (this.failed === undefined || sentAt < this.failed.sentAt) this.failed = { sentAt, at: this.deps.scheduler.now() };
  }

  /** Since when extension attempts have been failing or hanging: the oldest failure not made good, or the oldest call in flight. */
  private get failingSince(): number | undefined {
    let since = this.failed?.sentAt;
    for (const { at } of this.sending) if (at >= this.resumedAt && (since === undefined || at < since)) since = at;
    return since;
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
    // A complete answer to a call sent after the failure covered every lock no other call did.
    if (unanswered === 0) {
      if (this.failed !== undefined && sentAt >= this.failed.at) this.failed = undefined;
    } else {
      this.fail(sentAt);
      log.warn({ streams: unanswered, owned: ledger.size }, 'heartbeat: Redis did not answer for some locks (a node failed); retrying at the next tick');
    }
    return lost.length === 0 && strays.length === 0 ? NOTHING : { lost, strays };
  }

  /**
   * True while the heartbeat falls behind: the oldest extension in flight was sent, or the latest
   * answered one took, more than three quarters of a period. New claims wait meanwhile (see
   * `keyspaceExpiries$`): a consumer that keeps claiming while Redis or its own event loop is too
   * busy to answer its extensions in time gives up the streams it holds, and each of them is then
   * claimed again. Strain that lasts `STRAIN_MAX_TTLS` TTLs without a break is how this consumer's
   * link is (a far Redis), not a burst, and claims go on: a fleet behind one slow link must still
   * take the streams of a dead member.
   */
  strained(): boolean {
    const { ttl, scheduler, log } = this.deps;
    const limit = STRAIN_OF_PERIOD * (ttl / 2);
    const now = scheduler.now();
    let behind = this.lastAnswerMs > limit;
    for (const { at } of this.sending) if (now - at > limit) behind = true;
    if (!behind) {
      this.strainedSince = undefined;
      this.toldSteady = false;
      return false;
    }
    this.strainedSince ??= now;
    if (now - this.strainedSince < STRAIN_MAX_TTLS * ttl) return true;
    if (!this.toldSteady) {
      this.toldSteady = true;
      log.warn({ latestAnswerMs: this.lastAnswerMs }, `heartbeat behind for ${STRAIN_MAX_TTLS} TTLs in a row: a slow link, not a burst; claiming again`);
    }
    return false;
  }

  /** At every tick, without Redis: the leases whose locks could not be extended for longer than their TTL are lost. */
  judge(): readonly Lease[] {
    const { ledger, ttl, scheduler, log } = this.deps;
    const now = scheduler.now();
    const lost = assumeLost(ledger.all(), now, ttl, ttl / 2, { lastTickAt: this.lastTickAt, failingSince: this.failingSince });
    // A pause longer than the TTL: what failed before it says nothing about Redis now.
    if (now - this.lastTickAt > ttl) {
      this.failed = undefined;
      this.resumedAt = now;
    }
    this.lastTickAt = now;
    if (lost.length === 0) return lost;
    for (const lease of lost) ledger.drop(lease);
    log.warn({ streams: lost.length }, 'Redis has not confirmed these locks for longer than their TTL: assuming the streams lost');
    return lost;
  }
}
