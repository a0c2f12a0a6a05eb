import { expect } from 'chai';
import { MemberRecord, atCeiling, claimDelay, excessToHandBack, fairShares, fleetView, fmix32, fnv1a, pickHandBacks, rendezvous, rendezvousPair, sweepAllowance } from '../lib/rules/balance';
import { parseMembers } from '../lib/redis/script-args';

const member = (name: string, owned: number, overrides: Partial<MemberRecord> = {}): MemberRecord => ({
  name,
  capacity: Infinity,
  owned,
  joinedAt: 0,
  incarnation: 'i',
  seenAt: 10_000,
  ...overrides,
});
const rules = { memberTtlMs: 2000, settleMs: 4000 };
const policy = { hbInterval: 2000, tolerance: 0.1, batch: 100 };

describe('fair shares (water-filling weighted by capacity)', () => {
  it('divides evenly among unlimited members', () => {
    expect(Object.fromEntries(fairShares([member('a', 0), member('b', 0), member('c', 0), member('d', 0)], 1000))).to.deep.equal({ a: 250, b: 250, c: 250, d: 250 });
  });

  it('divides in proportion to capacity', () => {
    expect(Object.fromEntries(fairShares([member('a', 0, { capacity: 100 }), member('b', 0, { capacity: 300 })], 200))).to.deep.equal({ a: 50, b: 150 });
  });

  it('caps a member at its capacity and gives the rest to the others', () => {
    const shares = fairShares([member('a', 0, { capacity: 10 }), member('b', 0, { capacity: 100 }), member('c', 0)], 250);
    expect(Object.fromEntries(shares)).to.deep.equal({ a: 10, b: 100, c: 140 });
  });

  it('gives every member its capacity when the streams exceed the fleet', () => {
    expect(Object.fromEntries(fairShares([member('a', 0, { capacity: 100 }), member('b', 0, { capacity: 100 })], 400))).to.deep.equal({ a: 100, b: 100 });
  });

  it('weighs an unlimited member as the largest finite capacity', () => {
    expect(Object.fromEntries(fairShares([member('a', 0, { capacity: 10 }), member('b', 0)], 100))).to.deep.equal({ a: 10, b: 90 });
  });

  it('always sums to the total (or the fleet capacity)', () => {
    for (let seed = 1; seed < 50; seed++) {
      const members = [...Array(1 + (seed % 7)).keys()].map((i) => member(`m${i}`, 0, { capacity: ((seed * (i + 3)) % 5) === 0 ? Infinity : 1 + ((seed * 31 + i * 17) % 200) }));
      const total = (seed * 97) % 900;
      const sum = [...fairShares(members, total).values()].reduce((a, b) => a + b, 0);
      const capacity = members.reduce((n, m) => n + m.capacity, 0);
      expect(sum).to.be.closeTo(Math.min(total, capacity), 1e-6);
    }
  });
});

describe('rendezvous (weighted, FNV-1a + fmix32)', () => {
  it('hashes like the reference FNV-1a and murmur3 fmix32', () => {
    expect(fnv1a('')).to.equal(0x811c9dc5);
    expect(fnv1a('a')).to.equal(0xe40c292c);
    expect(fmix32(0)).to.equal(0);
    expect(fmix32(1)).to.equal(0x514e28b7);
  });

  it('picks the same winner whatever the order of the candidates', () => {
    const c = [{ name: 'a', weight: 1 }, { name: 'b', weight: 2 }, { name: 'c', weight: 3 }];
    for (let i = 0; i < 100; i++) expect(rendezvous(`s${i}`, c)).to.equal(rendezvous(`s${i}`, [...c].reverse()));
  });

  it('gives each candidate a share of keys proportional to its weight', () => {
    const wins = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const w = rendezvous(`svc:stream-${i}`, [{ name: 'a', weight: 1 }, { name: 'b', weight: 3 }])!;
      wins.set(w, (wins.get(w) ?? 0) + 1);
    }
    expect(wins.get('b')! / 20_000).to.be.closeTo(0.75, 0.02);
  });

  it('moves only the keys of a candidate that leaves', () => {
    const three = [{ name: 'a', weight: 1 }, { name: 'b', weight: 1 }, { name: 'c', weight: 1 }];
    for (let i = 0; i < 1000; i++) {
      const before = rendezvous(`s${i}`, three);
      if (before !== 'c') expect(rendezvous(`s${i}`, three.slice(0, 2))).to.equal(before);
    }
  });

  it('names as runner-up the candidate that wins once the winner leaves', () => {
    const four = ['a', 'b', 'c', 'd'].map((name, i) => ({ name, weight: i + 1 }));
    for (let i = 0; i < 1000; i++) {
      const [winner, runnerUp] = rendezvousPair(`s${i}`, four);
      expect(winner).to.equal(rendezvous(`s${i}`, four));
      expect(runnerUp).to.equal(rendezvous(`s${i}`, four.filter((c) => c.name !== winner)));
    }
    expect(rendezvousPair('s', [{ name: 'a', weight: 1 }])).to.deep.equal(['a', undefined]);
  });

  it('ignores candidates without a positive weight', () => {
    expect(rendezvous('s', [{ name: 'a', weight: 0 }, { name: 'b', weight: -3 }])).to.equal(undefined);
    expect(rendezvous('s', [{ name: 'a', weight: 0 }, { name: 'b', weight: 1 }])).to.equal('b');
  });
});

describe('the fleet view and the balance decisions', () => {
  it('counts only live members (the streams of those still settling too), and shares only among the settled ones', () => {
    const view = fleetView([member('a', 900), member('b', 0), member('dead', 100, { seenAt: 7000 }), member('new', 6, { joinedAt: 8000 })], 10_000, rules);
    expect(view.live.map((m) => m.name)).to.deep.equal(['a', 'b', 'new']);
    expect([...view.settled.keys()]).to.deep.equal(['a', 'b']);
    expect(view.total).to.equal(906);
    expect(Object.fromEntries(view.shares)).to.deep.equal({ a: 453, b: 453 });
  });

  it("lets a settled member take at once the streams of one that died before it settled", () => {
    // The survivor holds 10, a consumer started 1 s ago held 5 and died: all 15 are the survivor's share.
    const view = fleetView([member('s', 10), member('young', 5, { joinedAt: 9000 })], 10_000, rules);
    expect(view.shares.get('s')).to.equal(15);
  });

  it('lets a sweep take what its share plus the tolerance leaves, and one stream to a member holding none when the fleet holds none', () => {
    const view = fleetView([member('a', 200), member('b', 0)], 10_000, rules);
    expect(sweepAllowance(view, 'a', 200, policy)).to.equal(0);
    expect(sweepAllowance(view, 'b', 0, policy)).to.equal(110);
    // Nobody holds anything: shares are 0, yet an orphaned entry (its reader died) must be taken by someone.
    const empty = fleetView([member('a', 0), member('b', 0)], 10_000, rules);
    expect(sweepAllowance(empty, 'a', 0, policy)).to.equal(1);
    expect(sweepAllowance(empty, 'a', 1, policy)).to.equal(0);
    expect(sweepAllowance(undefined, 'a', 5, policy)).to.equal(Infinity);
  });

  it('hands back the excess over the share, at most a batch per heartbeat, and nothing within the tolerance', () => {
    const view = fleetView([member('a', 1000), member('b', 0), member('c', 0), member('d', 0)], 10_000, rules);
    expect(excessToHandBack(view, 'a', 1000, 0, policy)).to.equal(100);
    expect(excessToHandBack(view, 'a', 1000, 40, policy)).to.equal(60);
    expect(excessToHandBack(view, 'a', 300, 0, { ...policy, batch: 1000 })).to.equal(50);
    expect(excessToHandBack(view, 'a', 275, 0, policy)).to.equal(0);
    expect(excessToHandBack(view, 'b', 0, 0, policy)).to.equal(0);
    expect(excessToHandBack(view, 'stranger', 1000, 0, policy)).to.equal(0);
    expect(excessToHandBack(undefined, 'a', 1000, 0, policy)).to.equal(0);
  });

  it('designates one claimer per stream among the members below their share, weighted by how far below', () => {
    const view = fleetView([member('a', 600), member('b', 0), member('c', 300)], 10_000, rules);
    const designated = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const zero = ['a', 'b', 'c'].filter((m) => claimDelay(view, m, view.settled.get(m)!.owned, `s${i}`, policy) === 0);
      expect(zero.length).to.equal(1);
      designated.set(zero[0]!, (designated.get(zero[0]!) ?? 0) + 1);
    }
    // shares 300 each: b is 300 below, c and a are not below.
    expect(designated.get('b')).to.equal(3000);
  });

  it('hands nothing back while a member is settling: the shares are about to change', () => {
    const view = fleetView([member('a', 1000), member('b', 0), member('new', 0, { joinedAt: 9000 })], 10_000, rules);
    expect(view.shares.get('a')).to.equal(500);
    expect(excessToHandBack(view, 'a', 1000, 0, policy)).to.equal(0);
  });

  it('makes the others wait for a designated claimer seen lately: a heartbeat below the share (half for the runner-up), half as long again at or above it or not settled', () => {
    const view = fleetView([member('a', 10), member('b', 10), member('c', 100), member('new', 0, { joinedAt: 9000 })], 10_000, rules);
    const stream = [...Array(100).keys()].map((i) => `s${i}`).find((s) => claimDelay(view, 'a', 10, s, policy) === 0)!;
    // a and b are the only ones below their share: b is the runner-up of every stream a is designated for.
    expect(claimDelay(view, 'b', 10, stream, policy)).to.equal(1000);
    expect(claimDelay(view, 'c', 100, stream, policy)).to.equal(3000);
    expect(claimDelay(view, 'new', 0, stream, policy)).to.equal(3000);
    expect(claimDelay(view, 'a', 40, stream, policy)).to.equal(3000);
    expect(claimDelay(undefined, 'a', 10, stream, policy)).to.equal(0);
  });

  it('lets the runner-up of the rendezvous step in after half a heartbeat, and the others after a whole one', () => {
    const view = fleetView([member('a', 10), member('b', 10), member('c', 10), member('d', 100)], 10_000, rules);
    const delays = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const got = ['a', 'b', 'c'].map((m) => claimDelay(view, m, 10, `s${i}`, policy)).sort((x, y) => x - y);
      expect(got).to.deep.equal([0, 1000, 2000]);
      const [first, second] = rendezvousPair(`s${i}`, ['a', 'b', 'c'].map((name) => ({ name, weight: 1 })));
      expect(claimDelay(view, first!, 10, `s${i}`, policy)).to.equal(0);
      expect(claimDelay(view, second!, 10, `s${i}`, policy)).to.equal(1000);
      delays.set(second!, (delays.get(second!) ?? 0) + 1);
    }
    // each member is runner-up for about a third of the streams
    for (const m of ['a', 'b', 'c']) expect(delays.get(m)).to.be.within(70, 130);
  });

  it('replaces a designated claimer not seen for a heartbeat interval soon: a quarter heartbeat below the share, 3/8 at or above it', () => {
    const view = fleetView([member('a', 10, { seenAt: 9000 }), member('b', 10), member('c', 100)], 10_000, rules);
    const stream = [...Array(100).keys()].map((i) => `s${i}`).find((s) => claimDelay(view, 'a', 10, s, policy) === 0)!;
    // a was last seen 1000 ms before the view was read; 1100 ms later it is past the registry's TTL. b is the runner-up.
    expect(claimDelay(view, 'b', 10, stream, policy, 0)).to.equal(1000);
    expect(claimDelay(view, 'b', 10, stream, policy, 600)).to.equal(1000);
    expect(claimDelay(view, 'b', 10, stream, policy, 1100)).to.equal(250);
    expect(claimDelay(view, 'c', 100, stream, policy, 1100)).to.equal(750);
  });

  it('when nobody is below its share, designates one claimer among those within the tolerance, never beyond it; a member alone claims at once', () => {
    const alone = fleetView([member('a', 100)], 10_000, rules);
    expect(claimDelay(alone, 'a', 100, 's1', policy)).to.equal(0);
    expect(claimDelay(alone, 'a', 130, 's1', policy)).to.equal(0);
    const joining = fleetView([member('a', 100), member('new', 0, { joinedAt: 9000 })], 10_000, rules);
    expect(claimDelay(joining, 'a', 100, 's1', policy)).to.equal(0);
    expect(claimDelay(joining, 'a', 110, 's1', policy), 'beyond share + 10%').to.equal(3000);
    expect(claimDelay(joining, 'new', 0, 's1', policy)).to.be.greaterThan(0);
    const full = fleetView([member('a', 50), member('b', 50), member('c', 50)], 10_000, rules);
    const designated = new Set<string>();
    for (let i = 0; i < 200; i++) {
      // shares 50: nobody below; all within 50 + 10%.
      const zero = ['a', 'b', 'c'].filter((m) => claimDelay(full, m, 50, `s${i}`, policy) === 0);
      expect(zero.length, `s${i}`).to.equal(1);
      designated.add(zero[0]!);
      // Never beyond share + 10%: there the designee gives way like the others.
      expect(claimDelay(full, zero[0]!, 55, `s${i}`, policy)).to.equal(3000);
    }
    expect(designated.size).to.equal(3);
  });

  it('is full at its share plus the tolerance, and never when alone', () => {
    const view = fleetView([member('a', 250), member('b', 250), member('c', 250), member('d', 250)], 10_000, rules);
    expect(atCeiling(view, 'd', 274, policy)).to.equal(false);
    expect(atCeiling(view, 'd', 275, policy)).to.equal(true);
    expect(atCeiling(fleetView([member('a', 250)], 10_000, rules), 'a', 400, policy)).to.equal(false);
    expect(atCeiling(undefined, 'a', 400, policy)).to.equal(false);
  });

  it('picks the streams held longest, none that moved here less than the hold time ago, only eligible ones', () => {
    const held = [{ name: 'x', since: 500 }, { name: 'old', since: 0 }, { name: 'new', since: 9000 }, { name: 'skip', since: 100 }].map((h) => ({ ...h, movedIn: true }));
    expect(pickHandBacks(held, 5, 10_000, 5000, (n) => n !== 'skip')).to.deep.equal(['old', 'x']);
    expect(pickHandBacks(held, 1, 10_000, 5000, () => true)).to.deep.equal(['old']);
    expect(pickHandBacks(held, 0, 10_000, 5000, () => true)).to.deep.equal([]);
  });

  it('hands back a stream fresh from the LBS at once: it has not moved yet', () => {
    const held = [{ name: 'claimed', since: 9000, movedIn: true }, { name: 'fresh', since: 9500, movedIn: false }, { name: 'older', since: 9200, movedIn: false }];
    expect(pickHandBacks(held, 5, 10_000, 5000, () => true)).to.deep.equal(['older', 'fresh']);
  });

  it('reads member records from the registry, unlimited as -1, skipping malformed ones', () => {
    expect(parseMembers(['a', '100 7 1000 ab12 2000', 'b', '-1 0 1500 cd34 2100', 'c', 'garbage'])).to.deep.equal([
      { name: 'a', capacity: 100, owned: 7, joinedAt: 1000, incarnation: 'ab12', seenAt: 2000 },
      { name: 'b', capacity: Infinity, owned: 0, joinedAt: 1500, incarnation: 'cd34', seenAt: 2100 },
    ]);
  });
});
