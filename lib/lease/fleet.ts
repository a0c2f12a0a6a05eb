import { randomUUID } from 'node:crypto';
import { Observable, Subject } from 'rxjs';
import type { MemberInput } from '../port';
import { BalancePolicy, BalanceRules, ClaimPlan, FleetView, MemberRecord, atCeiling, claimPlan, delayOf, excessToHandBack, fleetView, sweepAllowance } from '../rules/balance';
import type { LeaseLedger } from './ledger';

/** Hand back above share + 10%: fewer moves for a fleet that is nearly balanced. */
export const BALANCE_TOLERANCE = 0.1;
/** A member takes part in the balance once it has been in the registry this many heartbeat intervals. */
export const SETTLE_HEARTBEATS = 2;
/** A stream that moved to this consumer (a claim, a sweep) less than this many heartbeat intervals ago is not handed back: no stream moves twice in one rebalance. */
export const HOLD_HEARTBEATS = 5;
/**
 * The total the shares divide is the largest of the snapshots of the last this many heartbeat
 * intervals: a stream handed back (or left by a dead member) is in no record until its new owner
 * writes one, and a total that dips meanwhile would make the giver hand back too many.
 */
export const TOTAL_WINDOW_HEARTBEATS = 2;

/** A claim plan serves this long (ms): who is presumed gone changes no faster. */
const PLAN_MS = 50;

/** Where a stream's entries are being consumed, and how to hand it back at its next safe point (the entry engine). */
export interface HandOver {
  /** True while a `consumeStream` reads this stream. */
  isConsuming(name: string): boolean;
  /** Asks that `consumeStream` to stop right after its next commit, then `processStreams` releases the stream; false if none runs. */
  handBack(name: string): boolean;
}

export interface FleetOptions {
  readonly consumer: string;
  readonly hbInterval: number;
  readonly rebalance: boolean | 'consumed';
  readonly rebalanceBatch: number;
}

/**
 * This consumer's view of the fleet: it writes its member record at every heartbeat (through the
 * lock manager's extension call) and keeps the last snapshot of the registry it read back. It
 * answers the two questions of the balance: how long to wait before claiming a stream, and how
 * many streams to hand back now. The decisions themselves are the pure rules of
 * `rules/balance.ts`.
 *
 * ## Example
 * ```ts
 * const fleet = new Fleet(ledger, { consumer: 'redis-consumer-a', hbInterval: 2000, rebalance: true, rebalanceBatch: 100 });
 * fleet.observe(members, now);     // after a heartbeat
 * fleet.claimDelay('s1');          // 0 when this consumer should take s1 first
 * ```
 */
export class Fleet {
  /** A new one per client: a restarted process is a new member and settles again. */
  readonly incarnation = randomUUID().slice(0, 8);
  readonly rules: BalanceRules;
  readonly policy: BalancePolicy;
  private latest: FleetView | undefined;
  /** When the latest view was read (ms, this process's clock). */
  private latestAt = 0;
  /** The claim plan of the latest view, and how old the view was when it was made. */
  private plan: { readonly view: FleetView | undefined; readonly elapsed: number; readonly plan: ClaimPlan | undefined } | undefined;
  private readonly views = new Subject<FleetView>();
  /** The totals of the recent snapshots (Redis clock), oldest first. */
  private totals: { readonly at: number; readonly total: number }[] = [];
  /** Every snapshot read back by the heartbeat. */
  readonly views$: Observable<FleetView> = this.views.asObservable();

  constructor(
    private readonly ledger: Pick<LeaseLedger, 'size' | 'capacity' | 'reservedCount'>,
    readonly options: FleetOptions,
    /** This process's clock (ms): how old the latest view is when a stream is claimed. */
    private readonly now: () => number = Date.now,
  ) {
    this.rules = { memberTtlMs: options.hbInterval, settleMs: SETTLE_HEARTBEATS * options.hbInterval };
    this.policy = { hbInterval: options.hbInterval, tolerance: BALANCE_TOLERANCE, batch: options.rebalanceBatch };
  }

  /** The record the next heartbeat writes. */
  member(): MemberInput {
    return { capacity: this.ledger.capacity, owned: this.ledger.size, incarnation: this.incarnation, ttlMs: this.rules.memberTtlMs };
  }

  /** A heartbeat read the registry back at `now` (Redis clock). */
  observe(records: readonly MemberRecord[], now: number): FleetView {
    const horizon = now - TOTAL_WINDOW_HEARTBEATS * this.options.hbInterval;
    this.totals = this.totals.filter((t) => t.at >= horizon);
    const recent = this.totals.reduce((max, t) => Math.max(max, t.total), 0);
    const view = fleetView(records, now, this.rules, recent);
    this.totals.push({ at: now, total: fleetView(records, now, this.rules).total });
    this.latest = view;
    this.latestAt = this.now();
    this.views.next(view);
    return view;
  }

  get view(): FleetView | undefined {
    return this.latest;
  }

  /**
   * How long to wait before claiming `stream`, from now (0 when this consumer does not balance);
   * `underWay`: streams about to be claimed that hold no place yet. Ask again after a heartbeat
   * period: the answer changes with every view.
   */
  claimDelay(stream: string, underWay = 0): number {
    if (this.options.rebalance === false) return 0;
    // Claims under way count: a burst of expiries must not all find this consumer below its share.
    const owned = this.ledger.size + this.ledger.reservedCount + underWay;
    const elapsed = this.now() - this.latestAt;
    // One plan per view and PLAN_MS: a burst of expiries reads the view once.
    if (this.plan === undefined || this.plan.view !== this.latest || elapsed - this.plan.elapsed > PLAN_MS) {
      this.plan = { view: this.latest, elapsed, plan: claimPlan(this.latest, this.options.consumer, this.policy, elapsed) };
    }
    return delayOf(this.plan.plan, this.options.consumer, owned, stream, this.policy);
  }

  /** True when this consumer holds its share plus the tolerance: it leaves a stream it waited for to the others. */
  full(underWay = 0): boolean {
    if (this.options.rebalance === false) return false;
    return atCeiling(this.latest, this.options.consumer, this.ledger.size + this.ledger.reservedCount + underWay, this.policy);
  }

  /** How many lockless entries the sweeps may take now (Infinity when this consumer does not balance). */
  sweepAllowance(): number {
    if (this.options.rebalance === false) return Infinity;
    return sweepAllowance(this.latest, this.options.consumer, this.ledger.size, this.policy);
  }

  /** How many streams to hand back now, `handingBack` being already on their way. */
  excess(handingBack: number): number {
    if (this.options.rebalance === false) return 0;
    return excessToHandBack(this.latest, this.options.consumer, this.ledger.size, handingBack, this.policy);
  }
}
