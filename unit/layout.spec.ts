import { expect } from 'chai';
// The hash slot function ioredis routes Cluster commands with (CRC16 of the hash tag, mod 16384).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const keySlot = require('cluster-key-slot') as (key: string) => number;
import { InvalidOptionsError } from '../lib/errors';
import { MUTEX_KEY_SEP, partitionOf, taggedKeyspacePattern } from '../lib/keys';
import { resolveLayout } from '../lib/layout';

describe('key layouts', () => {
  describe('tagged', () => {
    const layout = resolveLayout('orders', true, {});

    it('puts every key one script touches in one Cluster slot: the keys of a partition and the locks of its streams', () => {
      for (let p = 0; p < layout.partitions; p++) {
        const keys = layout.keysOf(p);
        const names = [...Array(200).keys()].map((i) => `stream-${i}`).filter((name) => layout.partitionOf(name) === p);
        const all = [keys.lbs, keys.dead, keys.deadlines, keys.names, keys.epoch, keys.reaperGuard, keys.reconcilerGuard, keys.locksOf('redis-consumer-a'), ...names.map((n) => layout.lockKeyOf(n, '1-0'))];
        expect(new Set(all.map(keySlot)).size, `partition ${p}`).to.equal(1);
      }
    });

    it('spreads the partitions of the default 3 over different slots', () => {
      expect(new Set([0, 1, 2].map((p) => keySlot(layout.keysOf(p).lbs))).size).to.equal(3);
    });

    it('parses back its lock keys, and no key of another service', () => {
      const key = layout.lockKeyOf('a{b}c', '7-1');
      expect(layout.parseLockKey(key)).to.deep.equal({ dataStreamName: 'a{b}c', idInLbs: '7-1' });
      expect(layout.parseLockKey(resolveLayout('orders2', true, {}).lockKeyOf('x', '1-0'))).to.equal(undefined);
      expect(layout.parseLockKey(`x${MUTEX_KEY_SEP}1-0`)).to.equal(undefined);
    });

    it('places a data stream by FNV-1a of its name, the same in every process', () => {
      expect([partitionOf('orders-1', 3), partitionOf('orders-2', 3), partitionOf('注文', 3), partitionOf('x', 1)]).to.deep.equal([0, 1, 2, 0]);
      expect(partitionOf('a', 1000)).to.equal(0xe40c292c % 1000);
    });

    it('escapes glob characters of the service in its keyspace pattern', () => {
      expect(taggedKeyspacePattern('a*b?[c]', 0)).to.equal('__keyspace@0__:{a\\*b\\?\\[c\\]:*');
    });
  });

  it('uses the Go layout on one node unless tagged is asked for, and refuses it on a Cluster', () => {
    expect(resolveLayout('s', false, {}).kind).to.equal('go');
    expect(resolveLayout('s', false, {}).lockKeyOf('n', '1-0')).to.equal(`n${MUTEX_KEY_SEP}1-0`);
    expect(resolveLayout('s', false, { keyLayout: 'tagged' }).partitions).to.equal(1);
    expect(resolveLayout('s', true, {}).partitions).to.equal(3);
    expect(() => resolveLayout('s', true, { keyLayout: 'go' })).to.throw(InvalidOptionsError, /Cluster/);
    expect(() => resolveLayout('s', false, { partitions: 2 })).to.throw(InvalidOptionsError, /tagged/);
    expect(() => resolveLayout('a}b', false, { keyLayout: 'tagged' })).to.throw(InvalidOptionsError, /hash tag/);
  });
});
