import { expect } from 'chai';
// The hash slot function ioredis routes Cluster commands with (CRC16 of the hash tag, mod 16384).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const keySlot = require('cluster-key-slot') as (key: string) => number;
import { resolveLayout } from '../lib/layout';
import { parseTag, partitionTag, partitionTags, slotRanges } from '../lib/partition-tags';

/** The primary of `slot` among the ranges `redis-cli --cluster create` gives `primaries` primaries. */
const primaryOf = (slot: number, primaries: number): number => slotRanges(primaries).findIndex(([first, last]) => slot >= first && slot <= last);

describe('partition tags', () => {
  const names = [...Array(2000).keys()].map((i) => (i % 3 === 0 ? `svc-${i}` : i % 3 === 1 ? `orders:${i}` : `注文-${i}`));

  it('splits the slots the way redis-cli --cluster create does', () => {
    expect(slotRanges(3)).to.deep.equal([[0, 5460], [5461, 10922], [10923, 16383]]);
    expect(slotRanges(1)).to.deep.equal([[0, 16383]]);
    for (const n of [2, 3, 4, 5, 6, 7, 9, 12, 100]) {
      const ranges = slotRanges(n);
      expect(ranges[0]![0]).to.equal(0);
      expect(ranges[n - 1]![1]).to.equal(16383);
      ranges.forEach(([first, last], i) => {
        expect(last - first + 1, `${n} ranges`).to.be.within(Math.floor(16384 / n), Math.ceil(16384 / n));
        if (i > 0) expect(first).to.equal(ranges[i - 1]![1] + 1);
      });
    }
  });

  it('puts the 3 default partitions of every service name on the 3 primaries of a default 3-primary Cluster, partition p on primary p', () => {
    for (const service of names) {
      const layout = resolveLayout(service, true, {});
      const owners = [0, 1, 2].map((p) => primaryOf(keySlot(layout.keysOf(p).lbs), 3));
      expect(owners, service).to.deep.equal([0, 1, 2]);
    }
  });

  it('puts k partitions on each primary when the count is k times the primaries', () => {
    for (const service of names.slice(0, 200)) {
      for (const [partitions, primaries] of [[6, 3], [9, 3], [8, 4], [12, 6]] as const) {
        const perPrimary = new Array<number>(primaries).fill(0);
        for (const tag of partitionTags(service, partitions)) perPrimary[primaryOf(keySlot(tag), primaries)]!++;
        expect(perPrimary, `${service}, ${partitions} on ${primaries}`).to.deep.equal(new Array(primaries).fill(partitions / primaries));
      }
    }
  });

  it('keeps the plain tag {<service>:<p>} when it already lies in its share, else the first {<service>:<p>.<k>} that does', () => {
    expect(partitionTags('orders', 1)).to.deep.equal(['{orders:0}']);
    let plain = 0;
    for (const service of names) {
      partitionTags(service, 3).forEach((tag, p) => {
        const match = /^\{(.*):(\d+)(?:\.(\d+))?\}$/.exec(tag)!;
        expect([match[1], Number(match[2])]).to.deep.equal([service, p]);
        const k = match[3] === undefined ? 0 : Number(match[3]);
        if (k === 0) plain++;
        // No smaller k lands in the partition's share: every process finds the same tag.
        for (let j = 0; j < k; j++) expect(primaryOf(keySlot(j === 0 ? `{${service}:${p}}` : `{${service}:${p}.${j}}`), 3)).to.not.equal(p);
      });
    }
    // About one partition in three keeps its plain tag (a third of the slots are its share).
    expect(plain / (names.length * 3)).to.be.within(0.28, 0.39);
  });

  it('parses a tag back, and nothing that is not one of its forms', () => {
    expect(parseTag('a:b', '{a:b:2.17}-input')).to.deep.equal({ partition: 2, tag: '{a:b:2.17}' });
    expect(parseTag('a', '{a:0}x')).to.deep.equal({ partition: 0, tag: '{a:0}' });
    for (const key of ['{a:01}x', '{a:0.0}x', '{a:0.}x', '{a:x}', '{a:0', '{ab:0}x', 'a:0}']) expect(parseTag('a', key), key).to.equal(undefined);
    expect(partitionTag('orders', 2, 3)).to.equal(partitionTags('orders', 3)[2]);
    expect(() => partitionTag('orders', 3, 3)).to.throw(RangeError);
  });

  it('finds no key of a partition under the tag of another variant', () => {
    const layout = resolveLayout('spread', true, {});
    const tag = partitionTags('spread', 3)[1]!;
    const other = tag === '{spread:1}' ? '{spread:1.1}' : '{spread:1}';
    expect(layout.partitionOfKey(`${tag}-input`)).to.equal(1);
    expect(layout.partitionOfKey(`${other}-input`)).to.equal(undefined);
    expect(layout.parseLockKey(`${other}${layout.lockKeyOf('s', '1-0').slice(tag.length)}`)).to.equal(undefined);
  });
});
