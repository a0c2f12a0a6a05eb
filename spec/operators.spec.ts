import { expect } from 'chai';
import { NEVER, Observable, finalize, lastValueFrom, mergeMap, throwError, timer } from 'rxjs';
import { RedisStreamClient, addStream, claimExpired, ofType, processStreams } from '../lib';
import type { OwnershipNotification, StreamOutcome } from '../lib';
import { lbsLength, lockKeyIn, sleep, streamName, useService, waitUntil } from '../support/service';

describe('operators against a real Redis', () => {
  const hbInterval = 300;
  const t = useService('ops');

  const client = (id: string): RedisStreamClient => new RedisStreamClient(t.connect(), t.service, { consumerId: id, hbInterval, lbsIdleTime: 60_000 });

  /** Subscribes for the rest of the test. */
  const keep = <T>(source: Observable<T>, next: (value: T) => void, complete?: () => void): void => {
    const subscription = source.subscribe({ next, complete });
    t.onTeardown(() => subscription.unsubscribe());
  };

  /** A consumer running `claimExpired`, recording what it emits. */
  const claiming = (c: RedisStreamClient): OwnershipNotification[] => {
    const seen: OwnershipNotification[] = [];
    keep(c.init().pipe(claimExpired(c)), (n) => seen.push(n));
    return seen;
  };

  /** A consumer running `claimExpired` then `processStreams`, recording the outcomes. */
  const processing = (c: RedisStreamClient, handler: (name: string) => Observable<unknown>): StreamOutcome[] => {
    const outcomes: StreamOutcome[] = [];
    keep(c.init().pipe(claimExpired(c), processStreams(c, (s) => handler(s.payload.dataStreamName))), (o) => outcomes.push(o));
    return outcomes;
  };

  const add = (i: number | string) => lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, i), info: { i } }));

  it('claimExpired: exactly one survivor emits StreamClaimed for a stream whose owner left', async () => {
    const owner = client('owner');
    const owned: OwnershipNotification[] = [];
    const ownerSub = owner.init().subscribe((n) => owned.push(n));
    await sleep(150);
    await add(1);
    await waitUntil(() => owned.length === 1, 3000, 'hand-out');
    const survivors = [claiming(client('s1')), claiming(client('s2')), claiming(client('s3'))];
    await sleep(150);
    ownerSub.unsubscribe();
    await waitUntil(() => survivors.flat().some((n) => n.type === 'StreamClaimed'), 5000, 'a claim');
    await sleep(300);
    const claims = survivors.flat().filter((n) => n.type === 'StreamClaimed');
    expect(claims).to.have.length(1);
    expect(claims[0]!.additionalInfo).to.deep.equal({ i: 1 });
  });

  it('processStreams: acknowledges a stream once its handler completes', async () => {
    const outcomes = processing(client('a'), () => timer(100));
    await sleep(150);
    await add(1);
    await waitUntil(() => outcomes.length === 1, 3000, 'an outcome');
    expect(outcomes[0]!.type).to.equal('Processed');
    expect(await lbsLength(t.admin, t.service)).to.equal(0);
  });

  it('processStreams: a failed handler hands the stream to another consumer, which finishes it', async () => {
    const failed = processing(client('failing'), () => timer(800).pipe(mergeMap(() => throwError(() => new Error('boom')))));
    await sleep(150);
    await add(1);
    await sleep(100);
    const healthy = processing(client('healthy'), () => timer(50));
    await waitUntil(() => failed.length === 1, 3000, 'the failure');
    expect(failed[0]).to.include({ type: 'Failed' });
    expect((failed[0] as { error: { code: string } }).error.code).to.equal('HANDLER_FAILED');
    await waitUntil(() => healthy.some((o) => o.type === 'Processed'), 5000, 'the other consumer to finish it');
    expect(await lbsLength(t.admin, t.service)).to.equal(0);
  });

  it('processStreams: stops the handler at once when the stream is disowned, and acknowledges nothing', async () => {
    let stopped = false;
    const outcomes = processing(client('a'), () => NEVER.pipe(finalize(() => (stopped = true))));
    await sleep(150);
    const id = await add(1);
    await sleep(200);
    await t.admin.set(lockKeyIn(t.service, streamName(t.service, 1), id), 'redis-consumer-thief', 'PX', 10_000);
    await waitUntil(() => outcomes.length === 1, hbInterval * 4, 'the outcome');
    expect(outcomes[0]!.type).to.equal('Abandoned');
    expect(stopped).to.equal(true);
    expect(await lbsLength(t.admin, t.service)).to.equal(1);
  });

  it('release(): another consumer claims the stream at once, and the releaser does not take it back', async () => {
    const releaser = client('releaser');
    const mine: OwnershipNotification[] = [];
    keep(releaser.init().pipe(claimExpired(releaser)), (n) => mine.push(n));
    await sleep(150);
    await add(1);
    await waitUntil(() => mine.length === 1, 3000, 'hand-out');
    const other = claiming(client('other'));
    await sleep(hbInterval + 50);
    const releasedAt = Date.now();
    await lastValueFrom(releaser.release(streamName(t.service, 1)), { defaultValue: undefined });
    await waitUntil(() => other.some((n) => n.type === 'StreamClaimed'), 3000, 'the claim');
    const handoffMs = Date.now() - releasedAt;
    expect(handoffMs).to.be.lessThan(1000);
    expect(mine.filter((n) => n.type !== 'StreamAdded')).to.deep.equal([]);
    expect(await lbsLength(t.admin, t.service)).to.equal(1);
  });

  it('shutdown(): hands every unfinished stream to the fleet, unacknowledged, and completes', async () => {
    const leaving = client('leaving');
    const seen: OwnershipNotification[] = [];
    let completed = false;
    keep(leaving.init(), (n) => seen.push(n), () => (completed = true));
    await sleep(150);
    for (let i = 0; i < 3; i++) await add(i);
    await waitUntil(() => seen.length === 3, 3000, 'hand-out');
    const staying = claiming(client('staying'));
    await sleep(hbInterval + 50);
    await lastValueFrom(leaving.shutdown(), { defaultValue: undefined });
    expect(completed).to.equal(true);
    await waitUntil(() => staying.filter((n) => n.type === 'StreamClaimed').length === 3, 3000, 'three claims');
    expect(await lbsLength(t.admin, t.service)).to.equal(3);
  });

  it('ofType narrows a live notification stream', async () => {
    const c = client('typed');
    const names: string[] = [];
    keep(c.init().pipe(ofType('StreamAdded')), (n) => names.push(n.payload.dataStreamName));
    await sleep(150);
    await add(7);
    await waitUntil(() => names.length === 1, 3000, 'a StreamAdded');
    expect(names).to.deep.equal([streamName(t.service, 7)]);
  });
});
