import { expect } from 'chai';
import { analyseEntries } from '../chaos/entry-checks';
import type { ConsumerEvent } from '../support/protocol';

/** One stream (LBS entry 9-0, data stream "s" of entries 1-0 … 1-9): a first take commits 1-0 … 1-7 at 100, dies; a second take starts over at 1-0. */
const events = (): (ConsumerEvent & { pid: number })[] => {
  const out: (ConsumerEvent & { pid: number })[] = [];
  const line = (pid: number, fence: number, event: 'handled' | 'committed', entry: string, at: number) =>
    out.push({ event, stream: 's', id: '9-0', entry, fence, at, pid, consumer: `c${pid}` } as unknown as ConsumerEvent & { pid: number });
  for (let i = 0; i < 8; i++) line(1, 1, 'handled', `1-${i}`, 50 + i);
  line(1, 1, 'committed', '1-7', 100);
  for (let i = 0; i < 10; i++) line(2, 2, 'handled', `1-${i}`, 1000 + i);
  return out;
};
const input = { checked: new Map([['9-0', 's']]), written: new Map([['s', Array.from({ length: 10 }, (_, i) => `1-${i}`)]]), commitEntries: 5 };

describe('analyseEntries (the chaos suite: entries handled twice)', () => {
  it('fails entries handled again after their commit was reported, beyond one commit batch', () => {
    const a = analyseEntries({ ...input, events: events() });
    expect(a.failures.some((f) => f.startsWith('entries handled again after their commit'))).to.equal(true);
    expect(a.afterLostCommit.count).to.equal(0);
  });

  it('counts them apart, and does not fail, when the commit was reported while a primary failed over (lost with it)', () => {
    const a = analyseEntries({ ...input, events: events(), commitsMayVanish: { from: 90, to: 200 } });
    expect(a.failures).to.deep.equal([]);
    expect(a.afterLostCommit).to.deep.equal({ count: 8, maxPerTake: 8 });
    expect(a.handled).to.equal(10);
  });

  it('still fails a commit reported outside the failover window', () => {
    const a = analyseEntries({ ...input, events: events(), commitsMayVanish: { from: 500, to: 900 } });
    expect(a.failures.length).to.be.greaterThan(0);
  });
});
