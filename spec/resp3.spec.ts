import { expect } from 'chai';
import { Redis as Redis6 } from 'ioredis6';
import { lastValueFrom } from 'rxjs';
import { addStream } from '../lib';
import { serviceKeys } from '../lib/keys';
import { RedisPort } from '../lib/redis/store';
import { sharedRedisUrl, sleep, streamName, useService } from '../support/service';

/**
 * ioredis 6 speaks RESP3 by default: every reply the library reads decodes the same under its
 * default, under `protocol: 2`, and with `replyMapping: 'resp3'` (maps as objects), which changes
 * the shape of CONFIG GET and XREADGROUP replies.
 */
const MODES = {
  'ioredis 6 default (RESP3, legacy mapping)': {},
  'protocol: 2': { protocol: 2 },
  "protocol: 3, replyMapping: 'resp3'": { protocol: 3, replyMapping: 'resp3' },
} as const;

describe('replies under RESP2 and RESP3 (ioredis 6)', () => {
  const t = useService('resp3');

  for (const [mode, options] of Object.entries(MODES)) {
    it(`hands out, releases, claims and finishes streams the same way: ${mode}`, async () => {
      const open = (): Redis6 => {
        const redis = new Redis6(sharedRedisUrl(), options);
        t.onTeardown(() => redis.disconnect());
        return redis;
      };
      const port = new RedisPort(open(), serviceKeys(t.service), 'redis-consumer-probe', 2000);
      expect(await lastValueFrom(port.getConfig('notify-keyspace-events'))).to.equal(((await t.admin.config('GET', 'notify-keyspace-events')) as string[])[1]);
      const a = t.consumer('a', { hbInterval: 500 }, { redis: open() as never });
      await sleep(100);
      for (let i = 0; i < 2; i++) await lastValueFrom(addStream(open(), t.service, { dataStreamName: streamName(t.service, i), info: { i } }));
      await a.waitFor('StreamAdded', 2);
      expect(a.of('StreamAdded').map((n) => n.additionalInfo).sort((x, y) => Number(x.i) - Number(y.i))).to.deep.equal([{ i: 0 }, { i: 1 }]);
      const b = t.consumer('b', { hbInterval: 500 }, { redis: open() as never });
      await sleep(100);
      await lastValueFrom(a.client.doneStream(streamName(t.service, 0)), { defaultValue: undefined });
      await lastValueFrom(a.client.release(streamName(t.service, 1)), { defaultValue: undefined });
      await b.waitFor('StreamExpired', 1, 5000);
      const claimed = await lastValueFrom(b.client.claim(b.of('StreamExpired')[0]!.payload));
      expect(claimed.additionalInfo).to.deep.equal({ i: 1 });
      await lastValueFrom(b.client.done(), { defaultValue: undefined });
      expect(await t.admin.xlen(`${t.service}-input`)).to.equal(0);
    });
  }
});
