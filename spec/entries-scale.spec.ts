import { expect } from 'chai';
import type Redis from 'ioredis';
import { Subscription, of } from 'rxjs';
import { LBS_FIELD, consumeStream, lbsKey, processStreams } from '../lib';
import { streamName, useService, waitUntil } from '../support/service';

/** The connections the server sees now (CLIENT LIST), minus the one asking. */
const connections = async (admin: Redis): Promise<number> => String(await admin.client('LIST')).trim().split('\n').length - 1;

describe('consumeStream at scale (private server)', function () {
  this.timeout(60_000);
  const t = useService('entries-scale');

  it('reads 10,000 owned streams over a constant number of connections, and still hands over new entries', async () => {
    await t.privateServer();
    const admin = t.admin;
    const c = t.consumer('a', { hbInterval: 2000, readCount: 1000 });
    let handled = 0;
    const sub: Subscription = c.client
      .init()
      .pipe(processStreams(c.client, (s) => consumeStream(c.client, s, () => of(handled++))))
      .subscribe();
    t.onTeardown(() => sub.unsubscribe());
    const add = async (from: number, to: number): Promise<void> => {
      const pipeline = admin.pipeline();
      for (let i = from; i < to; i++) pipeline.xadd(lbsKey(t.service), '*', LBS_FIELD, JSON.stringify({ DataStreamName: streamName(t.service, i), Info: {} }));
      await pipeline.exec();
    };
    await add(0, 10);
    await waitUntil(() => c.client.entryEngine.consuming === 10, 10_000, '10 streams consumed');
    await admin.xadd(streamName(t.service, 0), '*', 'n', '0');
    await waitUntil(() => handled === 1, 5000, 'an entry of 10 streams');
    const few = await connections(admin);
    await add(10, 10_000);
    await waitUntil(() => c.client.entryEngine.consuming === 10_000, 30_000, () => `10,000 streams consumed (have ${c.client.entryEngine.consuming})`);
    const pipeline = admin.pipeline();
    for (const i of [1, 5_000, 9_999]) pipeline.xadd(streamName(t.service, i), '*', 'n', '1');
    await pipeline.exec();
    await waitUntil(() => handled === 4, 5000, () => `the entries of 10,000 streams (have ${handled})`);
    expect(await connections(admin)).to.equal(few);
  });
});
