import { expect } from 'chai';
import { assumeLost } from '../lib/rules/assume-lost';

describe('assumeLost (the heartbeat verdict without Redis)', () => {
  const TTL = 2000;
  const PERIOD = 1000;
  const owned = [{ name: 'old', confirmedAt: 0 }, { name: 'fresh', confirmedAt: 1500 }];

  it('assumes lost the locks Redis has not confirmed for longer than the TTL, once extensions failed for a period', () => {
    const lost = assumeLost(owned, 3000, TTL, PERIOD, { lastTickAt: 2000, failingSince: 1500 });
    expect(lost.map((o) => o.name)).to.deep.equal(['old']);
  });

  it('assumes nothing while the last extension succeeded', () => {
    expect(assumeLost(owned, 3000, TTL, PERIOD, { lastTickAt: 2000, failingSince: undefined })).to.deep.equal([]);
  });

  it('assumes nothing while extensions have been failing for less than a period', () => {
    expect(assumeLost(owned, 3000, TTL, PERIOD, { lastTickAt: 2000, failingSince: 2500 })).to.deep.equal([]);
  });

  it('judges nothing on a tick that comes more than a TTL late (the process was paused)', () => {
    expect(assumeLost(owned, 6000, TTL, PERIOD, { lastTickAt: 2000, failingSince: 1000 })).to.deep.equal([]);
  });

  it('judges nothing on a tick that comes more than half a period late (blocked event loop: the answer may be queued behind the timer)', () => {
    // Tick at 1000 sent an extension; the loop was blocked until 2900, so the tick due at 2000 runs at 2900.
    expect(assumeLost(owned, 2900, TTL, PERIOD, { lastTickAt: 1000, failingSince: 1000 })).to.deep.equal([]);
  });

  it('judges again on the next tick on time, if the extension still has not succeeded', () => {
    const lost = assumeLost(owned, 3900, TTL, PERIOD, { lastTickAt: 2900, failingSince: 1000 });
    expect(lost.map((o) => o.name)).to.deep.equal(['old', 'fresh']);
  });
});
