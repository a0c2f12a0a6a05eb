import { expect } from 'chai';
import { ExpiryClock } from '../lib/lease/expiry-clock';

describe('ExpiryClock (when expiries were heard, for take-over times)', () => {
  let now = 0;
  const s1 = { dataStreamName: 's1', idInLbs: '1-0' };
  const s2 = { dataStreamName: 's2', idInLbs: '2-0' };
  beforeEach(() => (now = 1000));

  it('tells the time since an expiry was heard, once', () => {
    const clock = new ExpiryClock(() => now, 5000);
    clock.heard(s1);
    now += 120;
    expect(clock.since(s1)).to.equal(120);
    expect(clock.since(s1)).to.equal(undefined);
    expect(clock.since(s2)).to.equal(undefined);
  });

  it('tells nothing for an expiry heard longer ago than it keeps, and forgets it', () => {
    const clock = new ExpiryClock(() => now, 5000);
    clock.heard(s1);
    now += 5001;
    clock.heard(s2); // prunes s1
    expect(clock.since(s1)).to.equal(undefined);
    expect(clock.since(s2)).to.equal(0);
  });

  it('keeps the latest time of an expiry heard twice (another entry id is another expiry)', () => {
    const clock = new ExpiryClock(() => now, 5000);
    clock.heard(s1);
    now += 100;
    clock.heard(s1);
    clock.heard({ ...s1, idInLbs: '3-0' });
    now += 50;
    expect(clock.since(s1)).to.equal(50);
    expect(clock.since({ ...s1, idInLbs: '3-0' })).to.equal(50);
  });

  it('remembers at most 10000 expiries, forgetting the oldest', () => {
    const clock = new ExpiryClock(() => now, 1e9);
    for (let i = 0; i <= 10_000; i++) clock.heard({ dataStreamName: `s${i}`, idInLbs: `${i}-0` });
    expect(clock.since({ dataStreamName: 's0', idInLbs: '0-0' })).to.equal(undefined);
    expect(clock.since({ dataStreamName: 's1', idInLbs: '1-0' })).to.equal(0);
  });
});
