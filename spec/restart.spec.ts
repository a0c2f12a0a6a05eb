import { expect } from 'chai';
import { lastValueFrom } from 'rxjs';
import { StreamTerminatedError, addStream, lockKey } from '../lib';
import type { RedisServer } from '../support/redis-server';
import { hasRedisServer } from '../support/redis-server';
import { sleep, useService, waitUntil } from '../support/service';

describe('Redis restarts and outages', function () {
  this.timeout(30_000);
  const t = useService('restart', { connection: { retryStrategy: () => 50, maxRetriesPerRequest: 2 } });
  let server: RedisServer;

  before(function () {
    if (!hasRedisServer()) this.skip();
  });

  beforeEach(async () => {
    server = await t.privateServer();
  });

  it('re-creates the group and the keyspace flags after a restart without persistence, keeps its streams and serves new ones', async () => {
    const consumer = t.consumer('a', { hbInterval: 300, retry: { maxRetries: -1, initialDelay: 50, maxDelay: 200 } });
    await sleep(200);
    await lastValueFrom(addStream(consumer.redis, t.service, { dataStreamName: 'before' }));
    await consumer.waitFor('StreamAdded', 1);
    const { payload } = consumer.of('StreamAdded')[0]!;

    await server.restart();
    const admin = t.admin;
    await waitUntil(async () => ((await admin.config('GET', 'notify-keyspace-events')) as string[])[1]!.includes('K'), 10_000, 'keyspace flags re-applied');
    await waitUntil(async () => (await admin.get(lockKey(payload.dataStreamName, payload.idInLbs))) === consumer.client.id, 5000, 'lock re-taken');
    await waitUntil(async () => (await admin.exists(`${t.service}-input`)) === 1, 5000, 'group re-created');
    await lastValueFrom(addStream(admin, t.service, { dataStreamName: 'after' }));
    await consumer.waitFor('StreamAdded', 2);
    expect(consumer.of('StreamAdded')[1]!.payload.dataStreamName).to.equal('after');
    expect(consumer.of('StreamDisowned')).to.have.length(0);
    // The owner keeps the stream whose entry vanished with Redis, and can still finish it.
    await lastValueFrom(consumer.client.doneStream('before'), { defaultValue: undefined });
    // An extension sent before the heartbeat read the new epoch may still be in flight and take the
    // lock again after the finish (a loaded machine answers later than a tick): the heartbeat finds
    // it a stray at its answer and expires it.
    await waitUntil(async () => (await admin.exists(lockKey(payload.dataStreamName, payload.idInLbs))) === 0, 3000, 'the finished stream\'s lock gone');
    expect(consumer.error).to.equal(undefined);
  });

  it('errors the notification stream with STREAM_TERMINATED when Redis stays down past retry.maxRetries', async () => {
    const consumer = t.consumer('a', { hbInterval: 300, retry: { maxRetries: 3, initialDelay: 20, maxDelay: 100 } });
    await sleep(300);
    expect(consumer.error).to.equal(undefined);
    await server.kill();
    await waitUntil(() => consumer.error !== undefined, 10_000, 'the notification stream to error');
    expect(consumer.error).to.be.instanceOf(StreamTerminatedError).with.property('code', 'STREAM_TERMINATED');
    expect((consumer.error as Error).message).to.include('retry.maxRetries');
    expect((consumer.error as Error).cause).to.be.instanceOf(Error);
  });

  it('counts only read failures in a row: isolated dropped reader connections never exhaust retry.maxRetries', async () => {
    const consumer = t.consumer('a', { hbInterval: 200, retry: { maxRetries: 1, initialDelay: 20, maxDelay: 50 } });
    const redis = consumer.redis;
    await sleep(300);
    for (let i = 0; i < 3; i++) {
      const list = (await redis.client('LIST')) as string;
      const reader = list.split('\n').find((line) => line.includes('name=rscrx-reader') && line.includes('cmd=xreadgroup'));
      expect(reader, 'the reader connection').not.to.equal(undefined);
      await redis.client('KILL', 'ID', /id=(\d+)/.exec(reader!)![1]!);
      await sleep(700);
    }
    expect(consumer.error).to.equal(undefined);
    await lastValueFrom(addStream(redis, t.service, { dataStreamName: 'after-blips' }));
    await consumer.waitFor('StreamAdded', 1);
  });
});
