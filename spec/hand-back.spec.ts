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

  // touchLock's reads of one turn go as one script call: each lock's PTTL in order, and the read of
  // a lock past its TTL still deletes it at once with its `expired` event (with Redis's own
  // expiry cycle off, nothing else would).
  it('reads the locks of one turn in one call: their TTLs in order, and a lock past its TTL expires at once', async () => {
    await t.privateServer(['--enable-debug-command', 'local']);
    await t.admin.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0');
    await t.admin.config('SET', 'notify-keyspace-events', 'Kx');
    const subscriber = t.connect();
    const expired: string[] = [];
    subscriber.on('pmessage', (_p: string, channel: string, message: string) => {
      if (message === 'expired') expired.push(channel.slice(channel.indexOf(':') + 1));
    });
    await subscriber.psubscribe(keyspacePattern(0));
    const port = new RedisPort(t.connect(), serviceKeys(t.service), 'redis-consumer-owner', 10_000);
    const key = (i: number): string => `${t.service}:s${i}${MUTEX_KEY_SEP}${i}-0`;
    // 1500 locks: two calls of at most 1000 keys. Every third is gone, every third past its TTL.
    const n = 1500;
    for (let i = 0; i < n; i++) {
      if (i % 3 === 1) await t.admin.set(key(i), 'x', 'PX', 100_000 + i);
      if (i % 3 === 2) await t.admin.set(key(i), 'x', 'PX', 1);
    }
    await sleep(20);
    expect(expired, 'expired before the reads (the expiry cycle is off)').to.deep.equal([]);
    const calls = async (): Promise<number> => Number(/calls=(\d+)/.exec(((await t.admin.info('commandstats')).split('\r\n').find((l) => l.startsWith('cmdstat_evalsha:')) ?? 'calls=0'))![1]);
    await lastValueFrom(port.touchLock(key(0))); // loads the script (EVALSHA, then EVAL once)
    const before = await calls();
    const ttls = await Promise.all(Array.from({ length: n }, (_, i) => lastValueFrom(port.touchLock(key(i)))));
    expect((await calls()) - before, 'script calls for the reads').to.equal(2);
    ttls.forEach((ttl, i) => {
      if (i % 3 === 1) expect(ttl, `lock ${i}`).to.be.within(90_000, 100_000 + i);
      else expect(ttl, `lock ${i}`).to.equal(-2);
    });
    await sleep(100);
    const pastTtl = Array.from({ length: n }, (_, i) => i).filter((i) => i % 3 === 2).map(key);
    expect(expired.sort()).to.deep.equal(pastTtl.sort());
    expect(await t.admin.exists(...pastTtl)).to.equal(0);
  });
});
