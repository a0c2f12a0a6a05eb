import { expect } from 'chai';
import { describeOverlap } from '../chaos/checks';
import { runCase, settingsFor } from '../chaos/driver';
import { CASES } from '../chaos/faults';
import { killAll } from '../support/processes';
import { hasRedisServer } from '../support/redis-server';

/**
 * A short, deterministic slice of the chaos suite (`npm run chaos` runs all of it): one quick run
 * of each case below, consumers in child processes against a private redis-server of its own.
 */
const SLICE = ['sigkill-owner', 'keyspace-off', 'pubsub-kill'];

describe('chaos slice (npm run chaos runs every fault)', function () {
  this.timeout(40_000);

  before(function () {
    if (!hasRedisServer()) this.skip();
  });

  after(() => killAll());

  for (const name of SLICE) {
    const def = CASES.find((c) => c.name === name)!;
    it(`${name}: ${def.assertion}; nothing lost, no entry held twice beyond one TTL`, async () => {
      const result = await runCase(def, 1, settingsFor(true));
      const a = result.analysis;
      const evidence = [...result.failures, ...result.notes, `longest overlap: ${describeOverlap(a.duplicate)}`].join('\n  ');
      expect(a.streams, 'streams added').to.be.greaterThan(5);
      expect(a.lost, `lost entries\n  ${evidence}`).to.equal(0);
      expect(a.duplicate.ms, `duplicate ownership (ms)\n  ${evidence}`).to.be.at.most(a.duplicateBoundMs);
      expect(a.interrupted.length, 'processing windows the fault interrupted').to.be.greaterThan(0);
      expect(result.failures, evidence).to.deep.equal([]);
    });
  }
});
