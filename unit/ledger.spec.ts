import { expect } from 'chai';
import { lockKey } from '../lib/keys';
import { LeaseLedger } from '../lib/lease/ledger';

describe('LeaseLedger (the one record of what a consumer holds)', () => {
  let now: number;
  let events: string[];
  const ledger = () =>
    new LeaseLedger(lockKey, () => now, 100, {
      taken: (l) => void events.push(`taken ${l.payload.dataStreamName}`),
      dropped: (l) => void events.push(`dropped ${l.payload.dataStreamName}`),
    });

  beforeEach(() => {
    now = 1000;
    events = [];
  });

  it('holds a stream by name and entry, with its lock key and the time it was taken', () => {
    const leases = ledger();
    const lease = leases.take({ dataStreamName: 's1', idInLbs: '1-0' }, { k: 1 });
    expect(lease).to.deep.include({ lockKey: 's1<MUTEX_KEY_SEP>1-0', confirmedAt: 1000, additionalInfo: { k: 1 } });
    expect(lease.since.getTime()).to.equal(1000);
    expect([leases.holds('s1', '1-0'), leases.holds('s1', '2-0'), leases.size]).to.deep.equal([true, false, 1]);
    expect(events).to.deep.equal(['taken s1']);
  });

  it('drops only the lease it is given: a newer entry of the same data stream stays', () => {
    const leases = ledger();
    const old = leases.take({ dataStreamName: 's1', idInLbs: '1-0' }, {});
    const newer = leases.take({ dataStreamName: 's1', idInLbs: '2-0' }, {});
    expect(leases.drop(old)).to.equal(false);
    expect(leases.get('s1')).to.equal(newer);
    expect(leases.drop(newer)).to.equal(true);
    expect(leases.size).to.equal(0);
    // The replaced lease ends when the newer one begins: every `taken` has its `dropped` (metrics' gauges stay balanced).
    expect(events).to.deep.equal(['taken s1', 'dropped s1', 'taken s1', 'dropped s1']);
  });

  it('records a confirmation only for the current lease of a stream', () => {
    const leases = ledger();
    const old = leases.take({ dataStreamName: 's1', idInLbs: '1-0' }, {});
    leases.drop(old);
    const current = leases.take({ dataStreamName: 's1', idInLbs: '2-0' }, {});
    leases.confirm([old, current], 1500);
    expect([old.confirmedAt, current.confirmedAt]).to.deep.equal([1000, 1500]);
  });

  it('leaves to the others, for handBackMs, an entry it handed back; then forgets the hand-back', () => {
    const leases = ledger();
    const lease = leases.take({ dataStreamName: 's1', idInLbs: '1-0' }, {});
    leases.handBack(lease);
    expect([leases.size, leases.isHandedBack(lease.lockKey)]).to.deep.equal([0, true]);
    expect(leases.keeps('redis-consumer-me', 'redis-consumer-me', '1-0')).to.equal(true);
    now += 101;
    expect(leases.keeps('redis-consumer-me', 'redis-consumer-me', '1-0')).to.equal(false);
    expect(leases.isHandedBack(lease.lockKey)).to.equal(false);
  });

  it("keeps the pending entries it holds, and never another consumer's", () => {
    const leases = ledger();
    leases.take({ dataStreamName: 's1', idInLbs: '1-0' }, {});
    expect(leases.keeps('redis-consumer-me', 'redis-consumer-me', '1-0')).to.equal(true);
    expect(leases.keeps('redis-consumer-other', 'redis-consumer-me', '1-0')).to.equal(false);
    expect(leases.keeps('redis-consumer-me', 'redis-consumer-me', '2-0')).to.equal(false);
  });
});

describe('LeaseLedger capacity (maxStreams)', () => {
  const at = (capacity: number) => new LeaseLedger(lockKey, () => 0, 100, {}, capacity);

  it('has unlimited room by default', () => {
    const leases = new LeaseLedger(lockKey, () => 0, 100);
    expect(leases.room()).to.equal(Infinity);
    expect(leases.reserve(10)).to.equal(10);
  });

  it('counts held streams and reservations against the capacity, and never grants more than the room', () => {
    const leases = at(3);
    leases.take({ dataStreamName: 's1', idInLbs: '1-0' }, {});
    expect(leases.room()).to.equal(2);
    expect(leases.reserve(5)).to.equal(2);
    expect(leases.room()).to.equal(0);
    expect(leases.reserve(1)).to.equal(0);
    leases.unreserve(2);
    expect(leases.room()).to.equal(2);
  });

  it('tells a waiter when a place comes free (a drop or an unreserve), at once when there is room', () => {
    const leases = at(1);
    let told = 0;
    leases.whenRoom().subscribe(() => told++);
    expect(told).to.equal(1);
    const lease = leases.take({ dataStreamName: 's1', idInLbs: '1-0' }, {});
    leases.whenRoom().subscribe(() => told++);
    expect(told).to.equal(1);
    leases.drop(lease);
    expect(told).to.equal(2);
    leases.whenRoom().subscribe(() => told++);
    expect(told).to.equal(3);
  });
});
