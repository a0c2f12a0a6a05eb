import { expect } from 'chai';
import { lastValueFrom } from 'rxjs';
import { addStream } from '../lib';
import { serviceKeys } from '../lib/keys';
import { sleep, streamName, useService, waitUntil } from '../support/service';

describe('a consumer that stops leaves nothing of itself in Redis', () => {
  const t = useService('leave');

  for (const stop of ['done'] as const) {
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
});
