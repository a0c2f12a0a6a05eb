import { expect } from 'chai';
import { lastValueFrom } from 'rxjs';
import { MUTEX_KEY_SEP, keyspacePattern, serviceKeys } from '../lib/keys';
import { RedisPort } from '../lib/redis/store';
import { hasRedisServer } from '../support/redis-server';
import { sleep, useService } from '../support/service';

describe('handing a lock back (private server)', function () {
  this.timeout(60_000);
  const t = useService('hand-back');

  before(function () {
    if (!hasRedisServer()) this.skip();
  });

  // PEXPIRE key 1 deleted the key at once, with a `del` event and no `expired`, about once in a few
  // thousand hand-backs (the millisecond passed inside PEXPIRE): nobody heard the release.
  it('always ends in an `expired` event, never a `del` (20k hand-backs, as release() does them)', async () => {
    const server = await t.privateServer();
    await t.admin.config('SET', 'notify-keyspace-events', 'Kgx');
    const subscriber = t.connect();
    const events = new Map<string, string>();
    subscriber.on('pmessage', (_p: string, channel: string, message: string) => {
      if (message === 'expired' || message === 'del') events.set(channel.slice(channel.indexOf(':') + 1), message);
    });
    await subscriber.psubscribe(keyspacePattern(0));
    const owner = 'redis-consumer-owner';
    // Closed at the end: left open, it would retry the stopped server forever (a timer keeps the run up).
    const connection = server.connect();
    const port = new RedisPort(connection, serviceKeys(t.service), owner, 10_000);
    const n = 20_000;
    const handBack = async (i: number): Promise<void> => {
      const key = `${t.service}:s${i}${MUTEX_KEY_SEP}${i}-0`;
      await t.admin.set(key, owner, 'PX', 10_000);
      expect(await lastValueFrom(port.expireLock(key))).to.equal(true);
      for (let read = 0; read < 5; read++) {
        await sleep(2);
        if ((await lastValueFrom(port.touchLock(key))) < 0) return;
      }
    };
    try {
      for (let from = 0; from < n; from += 200) await Promise.all(Array.from({ length: 200 }, (_, k) => handBack(from + k)));
      await sleep(300);
    } finally {
      connection.disconnect();
    }
    const counts = { expired: 0, del: 0 };
    for (const message of events.values()) counts[message as 'expired' | 'del']++;
    expect(counts).to.deep.equal({ expired: n, del: 0 });
  });
});
