/**
 * The fleet's balance, decided without Redis: who is a member, what each member's fair share is,
 * who takes a stream that lost its owner, and how many streams a loaded member hands back. Every
 * consumer computes the same answers from the same snapshot of the membership registry, so they
 * agree without talking to each other. Pure.
 */
import { rendezvousPair } from './rendezvous';

/** One consumer as the membership registry records it (`<service>-members`, written by its heartbeat). */
export interface MemberRecord {
  readonly name: string;
  /** Its `maxStreams` (Infinity: unlimited). */
  readonly capacity: number;
  /** How many streams it held at its last heartbeat. */
  readonly owned: number;
  /** When it joined (ms, Redis clock): its first heartbeat of this incarnation. */
  readonly joinedAt: number;
  /** A random id per process start: a restart is a new member. */
  readonly incarnation: string;
  /** Its last heartbeat (ms, Redis clock). */
  readonly seenAt: number;
}

/** How a snapshot is read. */
export interface BalanceRules {
  /** A member not seen for this long (ms) is gone. */
  readonly memberTtlMs: number;
  /** A member takes part in the balance once it joined this long ago (ms): flappers never do. */
  readonly settleMs: number;
}

/** One snapshot of the fleet, as every consumer sees it. */
export interface FleetView {
  /** When the snapshot was taken (ms, Redis clock). */
  readonly at: number;
  /** Members seen within the TTL. */
  readonly live: readonly MemberRecord[];
  /** Live members that joined at least `settleMs` ago, by name. */
  readonly settled: ReadonlyMap<string, MemberRecord>;
  /** The fair share of every settled member (fractional), by name. */
  readonly shares: ReadonlyMap<string, number>;
  /** Streams held by the live members (settled or not): what the shares of the settled ones divide. */
  readonly total: number;
  /**
   * Every live member settled a quarter of `settleMs` ago at least: each of them has read a
   * snapshot in which it is settled, so it claims by its share (hand-backs wait for this).
   */
  readonly steady: boolean;
}

/**
 * Fair shares by water-filling: `total` is divided in proportion to each member's weight, and a
 * member whose proportional share exceeds its capacity gets its capacity, the rest being divided
 * again among the others. The weight is the capacity; an unlimited member weighs as much as the
 * largest finite capacity (1 when none is finite), so an all-unlimited fleet divides evenly.
 *
 * @example
 * fairShares([{ name: 'a', capacity: 100 }, { name: 'b', capacity: 300 }], 200) // a 50, b 150
 * fairShares([{ name: 'a', capacity: 10 }, { name: 'b', capacity: Infinity }], 100) // a 10, b 90
 */
export const fairShares = (members: readonly Pick<MemberRecord, 'name' | 'capacity'>[], total: number): Map<string, number> => {
  const finite = members.map((m) => m.capacity).filter(Number.isFinite);
  const unlimitedWeight = finite.length === 0 ? 1 : Math.max(...finite);
  const weightOf = (m: Pick<MemberRecord, 'capacity'>): number => (Number.isFinite(m.capacity) ? Math.max(m.capacity, 0) : unlimitedWeight);
  const shares = new Map<string, number>();
  let open = members.filter((m) => weightOf(m) > 0);
  for (const m of members) shares.set(m.name, 0);
  let left = total;
  while (open.length > 0 && left > 1e-9) {
    const weight = open.reduce((sum, m) => sum + weightOf(m), 0);
    const capped = open.filter((m) => (left * weightOf(m)) / weight >= m.capacity);
    if (capped.length === 0) {
      for (const m of open) shares.set(m.name, (left * weightOf(m)) / weight);
      break;
    }
    for (const m of capped) {
      shares.set(m.name, m.capacity);
      left -= m.capacity;
    }
    open = open.filter((m) => !capped.includes(m));
  }
  return shares;
};

export { fmix32, fnv1a, rendezvous, rendezvousPair } from './rendezvous';

/**
 * Reads one snapshot of the registry: the live members (seen within the TTL), the settled ones
 * (joined at least `settleMs` ago), and the fair shares of the streams the settled members hold
 * (at least `minTotal`: streams on their way between two members are in no record). Members still
 * settling keep what they hold and take no part in the balance.
 */
export const fleetView = (records: readonly MemberRecord[], now: number, rules: BalanceRules, minTotal = 0): FleetView => {
  const live = records.filter((m) => now - m.seenAt <= rules.memberTtlMs);
  const settledList = live.filter((m) => now - m.joinedAt >= rules.settleMs);
  // Streams held by live members that are still settling count too: a member that dies before it
  // settled leaves streams the settled ones must be able to take at once.
  const total = Math.max(minTotal, live.reduce((sum, m) => sum + m.owned, 0));
  return {
    at: now,
    live,
    settled: new Map(settledList.map((m) => [m.name, m])),
    shares: fairShares(settledList, total),
    total,
    steady: live.every((m) => now - m.joinedAt >= 1.25 * rules.settleMs),
  };
};

/** How a consumer claims and hands back, besides the view. */
export interface BalancePolicy {
  /** The heartbeat interval (ms): claim delays are fractions of it. */
  readonly hbInterval: number;
  /** A member hands back only above `share · (1 + tolerance)`. */
  readonly tolerance: number;
  /** Most streams handed back per heartbeat. */
  readonly batch: number;
}

/**
 * How long this consumer waits before claiming a stream that lost its owner, so that the
 * under-loaded members take it first and streams do not move back to loaded ones. The stream's
 * designated claimer is chosen by weighted rendezvous over the settled members below their share
 * (weighted by how far below), from the view every member reads alike:
 * - 0 for the designated claimer while it is itself below its share;
 * - when no settled member is below its share, the designated claimer is chosen the same way among
 *   those below their share plus the tolerance: it claims at once while below that, the others
 *   give way as below; nobody below that either: every member claims at once;
 * - 0 for a member that no other member is live beside (a consumer that does not balance, such as
 *   a Go consumer, would win the race while it waited);
 * - for a member below its share that is not designated: hbInterval while the designated claimer
 *   is present (it takes the stream, however many streams lost their owner at once: claims sent
 *   meanwhile would lose, and load a fleet that is already busy), hbInterval / 4 when it was not
 *   seen for a whole interval (the registry's TTL: it may be the member that died); half that for
 *   the runner-up of the rendezvous (members read the registry at different moments, so their
 *   views, and now and then their designees, differ: in a mass failover of 30k streams to three
 *   survivors, 2.3% of the streams had no member that saw itself designated, and waited a whole
 *   hbInterval for their claim);
 * - for a member at or above its share while another one is below, or not settled (a newcomer, a
 *   flapper), half as long again (1.5 hbInterval, or 3/8 hbInterval): it takes the stream only
 *   if nobody below its share did.
 * The designee's last heartbeat is judged `elapsedMs` after the view was read. When a member dies
 * holding many streams, its locks expire while the view still counts it among the members (its
 * TTL runs out with them), so the survivors' shares are too small until their next view: the
 * source asks again at every heartbeat period while it holds an expiry back
 * (`keyspaceExpiries$`), and the survivors go on at once then.
 * Without a view (no heartbeat yet) it claims at once, as a consumer that does not balance does.
 *
 * @example
 * claimDelay(view, 'redis-consumer-b', 10, 's1', policy) // 0 when b is the designated claimer of s1
 */
export const claimDelay = (view: FleetView | undefined, me: string, owned: number, stream: string, policy: Pick<BalancePolicy, 'hbInterval' | 'tolerance'>, elapsedMs = 0): number =>
  delayOf(claimPlan(view, me, policy, elapsedMs), me, owned, stream, policy);

/** One rendezvous candidate of a claim plan. */
interface Candidate {
  readonly name: string;
  readonly weight: number;
  readonly seenAt: number;
}

/** What `claimDelay` reads of a view at one moment, computed once for a burst of expiries. */
export interface ClaimPlan {
  /** When (ms, Redis clock). */
  readonly at: number;
  /** The settled members below their share, weighted by how far below. */
  readonly below: readonly Candidate[];
  /** When none is below: those below their share plus the tolerance, weighted by how far below that. */
  readonly within: readonly Candidate[];
  /** This member's share (undefined: not settled). */
  readonly share: number | undefined;
  /** Another settled member is below its share. */
  readonly othersHaveRoom: boolean;
  /** No other member is live: nobody that balances would take the stream. */
  readonly alone: boolean;
}

/** The plan of `claimDelay` for `view` read `elapsedMs` ago; undefined when there is nothing to balance (claim at once). */
export const claimPlan = (view: FleetView | undefined, me: string, policy: Pick<BalancePolicy, 'tolerance'>, elapsedMs = 0): ClaimPlan | undefined => {
  if (view === undefined || view.settled.size === 0) return undefined;
  const room = (ceiling: number): Candidate[] =>
    [...view.settled.values()].map((m) => ({ name: m.name, weight: (view.shares.get(m.name) ?? 0) * ceiling - m.owned, seenAt: m.seenAt })).filter((c) => c.weight > 0);
  const below = room(1);
  return {
    at: view.at + elapsedMs,
    below,
    within: below.length > 0 ? [] : room(1 + policy.tolerance),
    share: view.shares.get(me),
    othersHaveRoom: below.some((c) => c.name !== me),
    alone: view.live.every((m) => m.name === me),
  };
};

/** `claimDelay` from its plan. */
export const delayOf = (plan: ClaimPlan | undefined, me: string, owned: number, stream: string, policy: Pick<BalancePolicy, 'hbInterval' | 'tolerance'>): number => {
  if (plan === undefined || plan.alone) return 0;
  const candidates = plan.below.length > 0 ? plan.below : plan.within;
  const [designee, runnerUp] = rendezvousPair(stream, candidates);
  // A designee late with its heartbeat is still waited for, unless past the registry's TTL: under load every member is late.
  const seenAt = candidates.find((c) => c.name === designee)?.seenAt;
  const wait = seenAt !== undefined && plan.at - seenAt <= policy.hbInterval ? policy.hbInterval : policy.hbInterval / 4;
  if (plan.share === undefined) return 1.5 * wait;
  // The designee claims up to its share, or up to share + tolerance when nobody is below its share: never beyond.
  const ceiling = plan.below.length > 0 ? plan.share : Math.floor(plan.share * (1 + policy.tolerance) + 1e-9);
  if (designee === me && owned < ceiling) return 0;
  // The runner-up steps in first: views read at different moments may disagree on the designee.
  if (owned < plan.share) return runnerUp === me ? wait / 2 : wait;
  return designee === undefined && !plan.othersHaveRoom ? 0 : 1.5 * wait;
};

/**
 * True when this member holds its share plus the tolerance (or more): a stream it waited for is
 * left to the others (a stream taken now would be handed back later, and so move twice).
 *
 * @example
 * atCeiling(view, 'redis-consumer-d', 275, { tolerance: 0.1 }) // true when d's share is 250
 */
export const atCeiling = (view: FleetView | undefined, me: string, owned: number, policy: Pick<BalancePolicy, 'tolerance'>): boolean => {
  const share = view?.shares.get(me);
  return share !== undefined && view!.live.some((m) => m.name !== me) && owned >= Math.floor(share * (1 + policy.tolerance) + 1e-9);
};

/**
 * How many streams this consumer hands back at this heartbeat: nothing while a live member is
 * still settling (the shares are about to change: a stream moved now could have to move again),
 * nothing until it holds more than its share plus the tolerance, then the excess over its share
 * (rounded up), at most `batch`. `handingBack`: streams it is already handing back (they still
 * count as held).
 *
 * @example
 * excessToHandBack(view, 'redis-consumer-a', 1000, 0, { tolerance: 0.1, batch: 100, hbInterval: 2000 }) // 100 when a's share is 250
 */
export const excessToHandBack = (view: FleetView | undefined, me: string, owned: number, handingBack: number, policy: Pick<BalancePolicy, 'tolerance' | 'batch'>): number => {
  const share = view?.shares.get(me);
  if (share === undefined || !view!.steady) return 0;
  const keeping = owned - handingBack;
  if (keeping <= share * (1 + policy.tolerance) || keeping - Math.ceil(share) < 1) return 0;
  return Math.max(0, Math.min(keeping - Math.ceil(share), policy.batch - handingBack));
};

/**
 * Which streams to hand back: up to `count` that `eligible` accepts, longest held first; of the
 * streams that moved here (`movedIn`: claimed, or swept from an owner that lost them) only those
 * held at least `holdMs`, so that a stream moves at most once in one rebalance. A stream fresh
 * from the LBS has not moved yet: a consumer handed a burst of new streams just before others
 * joined gives them away at once.
 *
 * @example
 * pickHandBacks([{ name: 'old', since: 0, movedIn: true }, { name: 'new', since: 9000, movedIn: true }, { name: 'fresh', since: 9500, movedIn: false }], 5, 10_000, 5000, () => true) // ['old', 'fresh']
 */
export const pickHandBacks = (
  held: readonly { readonly name: string; readonly since: number; readonly movedIn: boolean }[],
  count: number,
  now: number,
  holdMs: number,
  eligible: (name: string) => boolean,
): string[] => {
  if (count <= 0) return [];
  return held
    .filter((h) => (!h.movedIn || now - h.since >= holdMs) && eligible(h.name))
    .sort((a, b) => a.since - b.since)
    .slice(0, count)
    .map((h) => h.name);
};

/**
 * How many lockless pending entries this consumer's sweeps (the reconciler, the recovery sweep)
 * may take now: up to its share plus the tolerance, so that a sweep does not grab streams handed
 * back for balance before their designated claimers take them (and so move them twice). At least
 * one while it holds nothing: when the fleet holds nothing every share is 0, and an entry left
 * pending without a lock (its reader died) would otherwise wait for ever.
 * Unbounded while it is not settled or has no view: a newcomer takes what nobody holds.
 *
 * @example
 * sweepAllowance(view, 'redis-consumer-b', 200, { tolerance: 0.1 }) // 75 when b's share is 250
 */
export const sweepAllowance = (view: FleetView | undefined, me: string, owned: number, policy: Pick<BalancePolicy, 'tolerance'>): number => {
  const share = view?.shares.get(me);
  if (share === undefined) return Infinity;
  return Math.max(owned === 0 ? 1 : 0, Math.ceil(share * (1 + policy.tolerance) - 1e-9) - owned);
};
