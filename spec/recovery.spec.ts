import { expect } from 'chai';
import Redis from 'ioredis';
import { lastValueFrom } from 'rxjs';
import { addStream, lockKey } from '../lib';
import { Consumer, cleanup, connect, createGroup, readAsCrashedConsumer, sleep, streamName, uniqueService } from './helpers/fixtures';
import { RedisServer, hasRedisServer } from '../support/redis-server';

describe('recovery of LBS entries nobody holds', () => {
  let admin: Redis;
  let service: string;
  const consumers: Consumer[] = [];
  const connections: Redis[] = [];
  const opts = { hbInterval: 200, lbsIdleTime: 400 };

  const consumer = (id: string, options: object = {}, redis: Redis = connect()): Consumer => {
    connections.push(redis);
    const c = new Consumer(redis, service, { consumerId: id, ...opts, ...options }).start();
    consumers.push(c);
    return c;
  };

  const addStreams = async (n: number): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push(await lastValueFrom(addStream(admin, service, { dataStreamName: streamName(service, i), info: { i } })));
    return ids;
  };

  beforeEach(async () => {
    admin = connect();
    service = uniqueService('recovery');
    await createGroup(admin, service);
  });

  afterEach(async () => {
    consumers.splice(0).forEach((c) => c.stop());
    connections.splice(0).forEach((r) => r.disconnect());
    await cleanup(admin, service);
    admin.disconnect();
  });

  it('recovers at start-up the entries of a consumer that crashed before taking their locks', async () => {
    await addStreams(3);
    expect(await readAsCrashedConsumer(admin, service, 'redis-consumer-crashed', 10)).to.have.length(3);
    await sleep(opts.lbsIdleTime + 50);
    const c = consumer('survivor');
    await c.waitFor('StreamAdded', 3);
    expect(c.of('StreamAdded').map((n) => n.additionalInfo)).to.have.deep.members([{ i: 0 }, { i: 1 }, { i: 2 }]);
    const pending = (await admin.xpending(`${service}-input`, `${service}-group`, '-', '+', 10)) as [string, string][];
    expect(pending.map(([, owner]) => owner)).to.deep.equal(Array(3).fill(c.client.id));
  });

  it('recovers non-contiguous pending entries (some in between were already done)', async () => {
    const ids = await addStreams(6);
    await readAsCrashedConsumer(admin, service, 'redis-consumer-crashed', 10);
    for (const done of [ids[1]!, ids[3]!]) {
      await admin.xack(`${service}-input`, `${service}-group`, done);
      await admin.xdel(`${service}-input`, done);
    }
    await sleep(opts.lbsIdleTime + 50);
    const c = consumer('survivor');
    await c.waitFor('StreamAdded', 4);
    await sleep(100);
    expect(c.of('StreamAdded').map((n) => n.payload.idInLbs).sort()).to.deep.equal([ids[0], ids[2], ids[4], ids[5]].sort());
  });

  it('follows the pending-list cursor past one page (lbsRecoveryCount smaller than the backlog)', async () => {
    await addStreams(7);
    await readAsCrashedConsumer(admin, service, 'redis-consumer-crashed', 10);
    await sleep(opts.lbsIdleTime + 50);
    const c = consumer('survivor', { lbsRecoveryCount: 2 });
    await c.waitFor('StreamAdded', 7);
  });

  it('acknowledges pending entries whose LBS entry was deleted, and hands out nothing for them', async () => {
    const ids = await addStreams(2);
    await readAsCrashedConsumer(admin, service, 'redis-consumer-crashed', 10);
    await admin.xdel(`${service}-input`, ids[0]!);
    await sleep(opts.lbsIdleTime + 50);
    const c = consumer('survivor');
    await c.waitFor('StreamAdded', 1);
    await sleep(200);
    expect(c.of('StreamAdded').map((n) => n.payload.idInLbs)).to.deep.equal([ids[1]]);
    const pending = (await admin.xpending(`${service}-input`, `${service}-group`, '-', '+', 10)) as [string][];
    expect(pending.map(([id]) => id)).to.deep.equal([ids[1]]);
  });

  it('never takes a stream whose owner is alive, although its entry is idle in the pending list', async () => {
    const owner = consumer('owner');
    await sleep(100);
    const ids = await addStreams(3);
    await owner.waitFor('StreamAdded', 3);
    await sleep(opts.lbsIdleTime * 3);
    const other = consumer('other');
    await sleep(opts.lbsIdleTime * 3);
    expect(other.of('StreamAdded')).to.have.length(0);
    for (const n of owner.of('StreamAdded')) {
      expect(await admin.get(lockKey(n.payload.dataStreamName, n.payload.idInLbs))).to.equal(owner.client.id);
    }
    expect(owner.of('StreamDisowned')).to.have.length(0);
    expect(ids).to.have.length(3);
  });

  it('keeps serving new streams when start-up recovery fails (XRANGE disabled on the server)', async function () {
    if (!hasRedisServer()) this.skip();
    const server = await RedisServer.start({ args: ['--rename-command', 'XRANGE', ''] });
    const redis = server.connect();
    try {
      // An orphaned entry, so that the sweep has an entry to read (and fails reading it).
      await createGroup(redis, service);
      await redis.xadd(`${service}-input`, '*', 'lbs-input', JSON.stringify({ DataStreamName: 'orphan' }));
      await readAsCrashedConsumer(redis, service, 'redis-consumer-crashed', 1);
      await sleep(opts.lbsIdleTime + 50);
      const warnings: string[] = [];
      const logger = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (_: object, msg?: string) => void warnings.push(msg ?? '') };
      const c = consumer('survivor', { logger }, redis);
      await sleep(300);
      await lastValueFrom(addStream(redis, service, { dataStreamName: 'after-failed-recovery' }));
      await c.waitFor('StreamAdded', 1);
      expect(c.of('StreamAdded').map((n) => n.payload.dataStreamName)).to.deep.equal(['after-failed-recovery']);
      expect(c.error).to.equal(undefined);
      expect(warnings.some((w) => w.includes('recovery sweep failed'))).to.equal(true);
    } finally {
      consumers.splice(0).forEach((c) => c.stop());
      await server.stop();
    }
  });

});
