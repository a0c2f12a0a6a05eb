import { expect } from 'chai';
import { NEVER, lastValueFrom } from 'rxjs';
import { RedisStreamClient, addStream, claimExpired, processStreams } from '../lib';
import type { StreamOutcome } from '../lib';
import { serviceKeys } from '../lib/keys';
import { locksOf, sleep, streamName, useService, waitUntil } from '../support/service';

describe('a consumer that stops leaves nothing of itself in Redis', () => {
  const t = useService('leave');

  for (const stop of ['done', 'shutdown'] as const) {
    it(`removes its deadline and its lock set at ${stop}(), also as the last consumer of the service`, async () => {
      const keys = serviceKeys(t.service);
      const c = t.consumer('last');
      await sleep(100);
      for (let i = 0; i < 3; i++) await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, i) }));
      await c.waitFor('StreamAdded', 3);
      expect(await t.admin.zscore(keys.deadlines, c.client.id)).not.to.equal(null);
      await lastValueFrom(c.client[stop](), { defaultValue: undefined });
      await waitUntil(() => c.completed, 2000, 'notifications$ to complete');
      expect(await t.admin.smembers(keys.locksOf(c.client.id)), 'locks left').to.deep.equal([]);
      expect(await t.admin.exists(keys.deadlines, keys.locksOf(c.client.id))).to.equal(0);
    });
  }

  it('keeps the deadline of a consumer that stops while still holding a lock, for the reapers of the others', async () => {
    const keys = serviceKeys(t.service);
    const c = t.consumer('holder');
    await sleep(100);
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, 'held') }));
    await c.waitFor('StreamAdded', 1);
    // A lock the consumer holds but no longer knows of (as after a finish that failed while stopping).
    await t.admin.sadd(keys.locksOf(c.client.id), 'another-lock');
    await lastValueFrom(c.client.done(), { defaultValue: undefined });
    expect(await t.admin.zscore(keys.deadlines, c.client.id)).not.to.equal(null);
  });

  // Streams taken less than half a heartbeat before shutdown() had their locks never extended: they
  // lapsed while release() waited out their first TTL, so the hand-back found no lock, left the key
  // in the lock set, and this consumer claimed its own streams back from their `expired` event.
  it('hands back streams taken just before shutdown() and claims none of them back (lock set and deadline gone)', async function () {
    this.timeout(20_000);
    const keys = serviceKeys(t.service);
    const hbInterval = 400;
    const client = new RedisStreamClient(t.connect(), t.service, { consumerId: 'quick', hbInterval });
    const outcomes: StreamOutcome[] = [];
    const owned: string[] = [];
    const subscription = client
      .init()
      .pipe(
        claimExpired(client),
        processStreams(client, (s) => (owned.push(s.payload.dataStreamName), NEVER)),
      )
      .subscribe((o) => outcomes.push(o));
    t.onTeardown(() => subscription.unsubscribe());
    await sleep(100);
    const names = [0, 1, 2].map((i) => streamName(t.service, i));
    for (const dataStreamName of names) await lastValueFrom(addStream(t.admin, t.service, { dataStreamName }));
    await waitUntil(() => names.every((n) => owned.includes(n)), 5000, `${names.join(', ')} handed out`);
    // Most likely no heartbeat tick since the take (a tick would extend every lock): shutdown() at once.
    await lastValueFrom(client.shutdown(), { defaultValue: undefined });
    await sleep(2 * hbInterval);
    expect(owned, 'streams taken (or claimed back)').to.deep.equal(names);
    expect(await t.admin.smembers(keys.locksOf(client.id)), 'lock set').to.deep.equal([]);
    expect(await t.admin.zscore(keys.deadlines, client.id), 'deadline').to.equal(null);
    expect([...(await locksOf(t.admin, t.service)).keys()], 'locks held').to.deep.equal([]);
    expect(outcomes.map((o) => o.type)).to.deep.equal([]);
  });

  // Two SIGINT handlers, or one that runs twice: the second shutdown() finished at once (nothing
  // left to release), its caller closed the connection, and the first one's hand-backs failed.
  it('ends a second shutdown() only once the first one handed every stream back and left', async () => {
    const keys = serviceKeys(t.service);
    const c = t.consumer('twice', { hbInterval: 1000 });
    await sleep(100);
    for (let i = 0; i < 3; i++) await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, i) }));
    await c.waitFor('StreamAdded', 3);
    const first = lastValueFrom(c.client.shutdown(), { defaultValue: undefined });
    await sleep(20);
    await lastValueFrom(c.client.shutdown(), { defaultValue: undefined });
    expect([...(await locksOf(t.admin, t.service)).values()], 'locks still held when the second shutdown() ended').to.deep.equal([]);
    expect(await t.admin.zscore(keys.deadlines, c.client.id), 'deadline').to.equal(null);
    await first;
    expect(c.completed).to.equal(true);
  });

  // A claim sent in the same turn as shutdown() took its lock after shutdown() had looked at what
  // it owned: the stream stayed locked, and the lock set and deadline stayed for good.
  it('finishes a claim in flight when shutdown() begins, and takes nothing after it', async () => {
    const keys = serviceKeys(t.service);
    const hbInterval = 200;
    const gone = t.consumer('gone', { hbInterval });
    const taker = t.consumer('taker', { hbInterval });
    await sleep(100);
    taker.stop(); // only `gone` is handed the stream
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, 0) }));
    await gone.waitFor('StreamAdded', 1);
    const payload = gone.of('StreamAdded')[0]!.payload;
    gone.stop(); // as if it crashed: its lock lapses within a TTL
    await waitUntil(async () => (await locksOf(t.admin, t.service)).size === 0, 2000, 'the lock to lapse');
    await sleep(hbInterval);
    const claimed = lastValueFrom(taker.client.claim(payload)).then(() => 'claimed', (err: { code?: string }) => err.code);
    await lastValueFrom(taker.client.shutdown(), { defaultValue: undefined });
    expect(await claimed).to.equal('claimed');
    expect([...(await locksOf(t.admin, t.service)).values()], 'locks held after shutdown()').to.deep.equal([]);
    expect(await t.admin.smembers(keys.locksOf(taker.client.id)), 'lock set').to.deep.equal([]);
    expect(await t.admin.zscore(keys.deadlines, taker.client.id), 'deadline').to.equal(null);
    const after = await lastValueFrom(taker.client.claim(payload)).then(() => 'claimed', (err: { code?: string }) => err.code);
    expect(after, 'a claim after shutdown()').to.not.equal('claimed');
  });
});
