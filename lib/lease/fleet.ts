import { randomUUID } from 'node:crypto';
import { Observable, Subject } from 'rxjs';
import type { MemberInput } from '../port';
import { BalancePolicy, BalanceRules, FleetView, MemberRecord, claimDelay, excessToHandBack, fleetView, sweepAllowance } from '../rules/balance';
import type { LeaseLedger } from './ledger';

/** Hand back above share + 10%: fewer moves for a fleet that is nearly balanced. */
export const BALANCE_TOLERANCE = 0.1;
/** A member takes part in the balance once it has been in the registry this many heartbeat intervals. */
export const SETTLE_HEARTBEATS = 2;
/** A stream this consumer took less than this many heartbeat intervals ago is not handed back: no stream moves twice in one rebalance. */
export const HOLD_HEARTBEATS = 5;
/** A stream handed back still counts as this consumer's for this many heartbeat intervals (in its record and its excess): until its new owner's record shows it, the fleet's total would miss it. */
export const IN_FLIGHT_HEARTBEATS = 2;

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
  private readonly views = new Subject<FleetView>();
  /** When each recent hand-back happened (the scheduler's clock), oldest first. */
  private handedBack: number[] = [];
  /** Every snapshot read back by the heartbeat. */
  readonly views$: Observable<FleetView> = this.views.asObservable();

  constructor(
    private readonly ledger: Pick<LeaseLedger, 'size' | 'capacity'>,
    readonly options: FleetOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.rules = { memberTtlMs: options.hbInterval, settleMs: SETTLE_HEARTBEATS * options.hbInterval };
    this.policy = { hbInterval: options.hbInterval, tolerance: BALANCE_TOLERANCE, batch: options.rebalanceBatch };
  }

  /** The record the next heartbeat writes. */
  member(): MemberInput {
    return { capacity: this.ledger.capacity, owned: this.owned(), incarnation: this.incarnation, ttlMs: this.rules.memberTtlMs };
  }

  /** This consumer handed `count` streams back just now. */
  noteHandedBack(count: number): void {
    const at = this.now();
    for (let i = 0; i < count; i++) this.handedBack.push(at);
  }

  /** Streams held, plus those handed back in the last `IN_FLIGHT_HEARTBEATS` intervals. */
  owned(): number {
    const horizon = this.now() - IN_FLIGHT_HEARTBEATS * this.options.hbInterval;
    let gone = 0;
    while (gone < this.handedBack.length && this.handedBack[gone]! < horizon) gone++;
    if (gone > 0) this.handedBack = this.handedBack.slice(gone);
    return this.ledger.size + this.handedBack.length;
  }

  /** A heartbeat read the registry back at `now` (Redis clock). */
  observe(records: readonly MemberRecord[], now: number): FleetView {
    const view = fleetView(records, now, this.rules);
    this.latest = view;
    this.views.next(view);
    return view;
  }

  get view(): FleetView | undefined {
    return this.latest;
  }

  /** How long to wait before claiming `stream` (0 when this consumer does not balance). */
  claimDelay(stream: string): number {
    if (this.options.rebalance === false) return 0;
    return claimDelay(this.latest, this.options.consumer, this.ledger.size, stream, this.policy);
  }

  /** How many lockless entries the sweeps may take now (Infinity when this consumer does not balance). */
  sweepAllowance(): number {
    if (this.options.rebalance === false) return Infinity;
    return sweepAllowance(this.latest, this.options.consumer, this.ledger.size, this.policy);
  }

  /** How many streams to hand back now, `handingBack` being already on their way. */
  excess(handingBack: number): number {
    if (this.options.rebalance === false) return 0;
    const inFlight = this.owned() - this.ledger.size;
    return excessToHandBack(this.latest, this.options.consumer, this.owned(), handingBack + inFlight, this.policy);
  }
}
