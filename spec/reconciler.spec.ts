import { expect } from 'chai';
import { lastValueFrom } from 'rxjs';
import { addStream, lockKey } from '../lib';
import type { Logger } from '../lib';
import { hasRedisServer } from '../support/redis-server';
import { createGroup, readAsCrashedConsumer, sleep, streamName, useService, waitUntil } from '../support/service';

describe('protections beyond keyspace events (private servers)', function () {
  this.timeout(40_000);
  const t = useService('protect', { connection: { maxRetriesPerRequest: 1 }, defaults: { hbInterval: 500, lbsIdleTime: 60_000 } });

  const recorder = (): { logger: Logger; warnings: string[] } => {
    const warnings: string[] = [];
    const noop = () => undefined;
    return { warnings, logger: { debug: noop, info: noop, error: noop, warn: (_o, msg) => void warnings.push(msg ?? '') } };
  };

  /** A private server at the default `hz` whose expiry cycle has `count` other volatile keys to sample. */
  const serverWithOtherVolatileKeys = async (count: number): Promise<void> => {
    await t.privateServer(['--hz', '10']);
    const pipeline = t.admin.pipeline();
    for (let i = 0; i < count; i++) pipeline.set(`other-app:${i}`, 'x', 'PX', 120_000);
    await pipeline.exec();
  };

  before(function () {
    if (!hasRedisServer()) this.skip();
  });

  it('reports an expiry on time among 10k other volatile keys (the reaper touches overdue locks)', async () => {
    await serverWithOtherVolatileKeys(10_000);
    const owner = t.consumer('owner');
    await sleep(200);
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, 1) }));
    await owner.waitFor('StreamAdded', 1);
    const watcher = t.consumer('watcher');
    await sleep(300);
    const stoppedAt = Date.now();
    owner.stop();
    await watcher.waitFor('StreamExpired', 1, 10_000);
    // The lock's TTL is 500 ms; Redis's own expiry cycle would take seconds to find it among 10k keys.
    expect(Date.now() - stoppedAt).to.be.lessThan(500 + 1000);
  });

  it('expires on time the locks a dead consumer took after its last heartbeat, and leaves no deadline or lock set behind', async () => {
    await serverWithOtherVolatileKeys(10_000);
    const hbInterval = 2000;
    const owner = t.consumer('owner', { hbInterval });
    await sleep(200);
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, 1) }));
    await owner.waitFor('StreamAdded', 1);
    const first = owner.of('StreamAdded')[0]!.payload;
    const firstLock = lockKey(first.dataStreamName, first.idInLbs);
    // The second lock is taken at least 300 ms after the heartbeat that last extended the first
    // (ticks every 1000 ms), and the owner dies before the next tick.
    await waitUntil(async () => (await t.admin.pttl(firstLock)) < hbInterval - 300, 3000, 'a heartbeat tick long enough ago');
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, 2) }));
    await owner.waitFor('StreamAdded', 2);
    // No reconciler turn: it could take an entry whose lock just lapsed before the expiry is heard.
    const watcher = t.consumer('watcher', { hbInterval, reconcileInterval: 60_000 });
    await sleep(200);
    owner.stop();
    const stoppedAt = Date.now();
    const due = await Promise.all(
      owner.of('StreamAdded').map(async ({ payload }) => ({ name: payload.dataStreamName, at: stoppedAt + (await t.admin.pttl(lockKey(payload.dataStreamName, payload.idInLbs))) })),
    );
    expect(due[1]!.at - due[0]!.at, 'the second lock is due later than the first').to.be.greaterThan(150);
    await watcher.waitFor('StreamExpired', 2, 10_000);
    for (const { name, at } of due) expect(watcher.arrivalOf('StreamExpired', name)! - at, `${name} heard late (ms past its deadline)`).to.be.lessThan(400);
    const deadlines = `${t.service}-deadlines`;
    const ownerLocks = `${t.service}-locks:redis-consumer-owner`;
    await waitUntil(async () => (await t.admin.zscore(deadlines, 'redis-consumer-owner')) === null && (await t.admin.exists(ownerLocks)) === 0, 2000, 'dead consumer forgotten');
  });

  it('takes a pending entry that has no lock at all within about a heartbeat, not after lbsIdleTime', async () => {
    await t.privateServer();
    await createGroup(t.admin, t.service);
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, 1), info: { k: 1 } }));
    await readAsCrashedConsumer(t.admin, t.service, 'redis-consumer-crashed', 1);
    const c = t.consumer('survivor', { reconcileInterval: 300 });
    await c.waitFor('StreamAdded', 1, 3000);
    expect(c.of('StreamAdded')[0]!.additionalInfo).to.deep.equal({ k: 1 });
  });

  it("restores keyspace notifications that were switched off under it (CONFIG SET notify-keyspace-events '')", async () => {
    await t.privateServer();
    const { logger, warnings } = recorder();
    t.consumer('a', { reconcileInterval: 300, logger });
    await sleep(300);
    await t.admin.config('SET', 'notify-keyspace-events', '');
    await waitUntil(async () => ((await t.admin.config('GET', 'notify-keyspace-events')) as string[])[1]!.includes('K'), 3000, 'flags restored');
    expect(warnings).to.deep.equal([]);
  });

  it('assumes its streams lost when Redis cannot confirm the locks for longer than the TTL (redis-server stopped)', async () => {
    const server = await t.privateServer();
    const c = t.consumer('a');
    await sleep(200);
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, 1) }));
    await c.waitFor('StreamAdded', 1);
    server.pause();
    const pausedAt = Date.now();
    await c.waitFor('StreamDisowned', 1, 3000);
    const disownedAfter = Date.now() - pausedAt;
    server.resume();
    expect(disownedAfter, 'ms from SIGSTOP of Redis to StreamDisowned').to.be.lessThan(500 * 3);
    const { dataStreamName, idInLbs } = c.of('StreamAdded')[0]!.payload;
    expect(c.of('StreamDisowned')[0]!.payload).to.deep.equal({ dataStreamName, idInLbs });
  });

  it('keeps its streams when its event loop is blocked right after a heartbeat was sent, for less than a TTL', async () => {
    await t.privateServer();
    const hbInterval = 1000;
    const redis = t.connect();
    // Block the event loop for 0.9 TTL right after the client sends a heartbeat: Redis extends the
    // locks, but the answer waits in the socket while the next tick's timer runs first.
    let blockNextHeartbeat = false;
    type Send = (command: { name: string; args: unknown[] }, stream?: unknown) => unknown;
    const target = redis as unknown as { sendCommand: Send };
    const send = target.sendCommand.bind(redis) as Send;
    target.sendCommand = (command, stream) => {
      const result = send(command, stream);
      const extendsLocks = command.name === 'evalsha' && command.args[2] === `${t.service}-deadlines` && command.args[3] === `${t.service}-input`;
      if (blockNextHeartbeat && extendsLocks) {
        blockNextHeartbeat = false;
        setImmediate(() => {
          const until = Date.now() + 0.9 * hbInterval;
          while (Date.now() < until);
        });
      }
      return result;
    };
    const c = t.consumer('blocked', { hbInterval }, { redis });
    await sleep(200);
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, 1) }));
    await c.waitFor('StreamAdded', 1);
    const { dataStreamName, idInLbs } = c.of('StreamAdded')[0]!.payload;
    await sleep(600);
    blockNextHeartbeat = true;
    await waitUntil(() => !blockNextHeartbeat, 2000, 'a heartbeat sent and the loop blocked');
    await sleep(2 * hbInterval);
    expect(c.of('StreamDisowned'), 'streams assumed lost although Redis kept their locks').to.deep.equal([]);
    expect(await t.admin.get(lockKey(dataStreamName, idInLbs))).to.equal(c.client.id);
    await lastValueFrom(c.client.doneStream(dataStreamName), { defaultValue: undefined });
  });

  it('warns at start-up when maxmemory-policy can evict lock keys', async () => {
    await t.privateServer(['--maxmemory', '100mb', '--maxmemory-policy', 'allkeys-lru']);
    const { logger, warnings } = recorder();
    const c = t.consumer('a', { logger });
    await sleep(300);
    expect(warnings.some((w) => w.includes('maxmemory-policy allkeys-lru can evict lock keys'))).to.equal(true);
    expect(c.error).to.equal(undefined);
  });
});
