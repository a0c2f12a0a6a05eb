import { expect } from 'chai';
import Redis, { RedisOptions } from 'ioredis';
import { Subscription, lastValueFrom, timer } from 'rxjs';
import { RedisStreamClient, addStream, claimExpired, processStreams } from '../lib';
import type { Notification, StreamOutcome } from '../lib';
import { hasRedisServer } from '../support/redis-server';
import { SENTINEL_MASTER, SentinelDeployment } from '../support/sentinel';
import { cleanup, sleep, streamName, uniqueService, waitFor, waitUntil } from '../support/service';

/**
 * Consumers behind Sentinel (support/sentinel.ts: a primary, a replica, three sentinels): they
 * connect with ioredis `sentinels` + `name`, and follow the new primary through a `SENTINEL
 * FAILOVER` and through a SIGKILL of the primary. Nothing is lost: every stream added (and
 * replicated: a write the primary took but never replicated is Redis's loss, not the client's) is
 * processed to the end.
 */
describe('behind Sentinel', function () {
  this.timeout(60_000);
  const hb = 500;
  let deployment: SentinelDeployment;
  const opened: Redis[] = [];
  const running: Subscription[] = [];
  let service: string;

  before(async function () {
    if (!hasRedisServer()) this.skip();
    this.timeout(30_000);
    deployment = await SentinelDeployment.start();
  });

  after(async () => {
    await deployment?.stop();
  });

  beforeEach(() => void (service = uniqueService('sentinel')));

  afterEach(async () => {
    running.splice(0).forEach((s) => s.unsubscribe());
    const admin = sentinelConnection();
    await cleanup(admin, service).catch(() => undefined);
    opened.splice(0).forEach((r) => r.disconnect());
  });

  /** A connection through Sentinel, as a user writes it. */
  const sentinelConnection = (options: RedisOptions = {}): Redis => {
    const redis = new Redis({ sentinels: deployment.sentinelPorts.map((port) => ({ host: '127.0.0.1', port })), name: SENTINEL_MASTER, ...options });
    redis.on('error', () => undefined);
    opened.push(redis);
    return redis;
  };

  /** Every processing outcome and notification of a fleet, by LBS id. */
  interface Fleet {
    readonly processed: Map<string, number>;
    /** every outcome but `Processed`, by LBS id */
    readonly other: Map<string, string[]>;
    readonly notifications: Notification[];
    readonly errors: unknown[];
    readonly subscriptions: Subscription[];
  }

  /** `n` consumers through Sentinel: claim every expiry, work `workMs` on each stream, then doneStream. */
  const fleet = (n: number, workMs: number): Fleet => {
    const f: Fleet = { processed: new Map(), other: new Map(), notifications: [], errors: [], subscriptions: [] };
    for (let i = 0; i < n; i++) {
      // c0 does not balance: it reports every expiry it hears at once (a balancing member holds an
      // expiry back for the stream's designated claimer, and reports it only if the lock is still gone).
      const client = new RedisStreamClient(sentinelConnection(), service, { consumerId: `c${i}`, hbInterval: hb, retry: { maxRetries: -1, initialDelay: 50, maxDelay: 500 }, ...(i === 0 ? { rebalance: false } : {}) });
      const sub = client
        .init()
        .pipe(
          claimExpired(client),
          processStreams(client, () => timer(workMs)),
        )
        .subscribe({
          next: (o: StreamOutcome) => {
            if (o.type === 'Processed') f.processed.set(o.payload.idInLbs, (f.processed.get(o.payload.idInLbs) ?? 0) + 1);
            else f.other.set(o.payload.idInLbs, [...(f.other.get(o.payload.idInLbs) ?? []), o.type === 'Failed' ? `Failed: ${o.error.message}` : o.type]);
          },
          error: (err: unknown) => f.errors.push(err),
        });
      running.push(sub, client.init().subscribe((x) => f.notifications.push(x)));
      f.subscriptions.push(sub);
    }
    return f;
  };

  /**
   * Adds one stream through Sentinel; its id once the replica has it too (WAIT 1), else undefined:
   * the primary may take an XADD and lose it in a failover (asynchronous replication, or the
   * moment both servers are primaries), Redis's loss and not the consumers'.
   */
  const add = async (producer: Redis, i: number): Promise<string | undefined> => {
    // A command in flight when the connection dropped gets no reply (it is not sent again): give up on it.
    const bounded = <T>(p: Promise<T>): Promise<T> => Promise.race([p, sleep(3000).then(() => Promise.reject(new Error('no reply')))]);
    try {
      const id = await bounded(lastValueFrom(addStream(producer, service, { dataStreamName: streamName(service, i), info: { i } })));
      return (await bounded(producer.wait(1, 1000))) >= 1 ? id : undefined;
    } catch {
      return undefined;
    }
  };

  /**
   * A producer's connection: a command whose reply was lost is not sent again after the reconnection
   * (a WAIT sent again would count the replicas of the new primary, not of the one that took the XADD).
   */
  const producerConnection = (): Redis => sentinelConnection({ autoResendUnfulfilledCommands: false });

  /** Adds a stream every 40 ms until `stop()`; the ids Redis replicated. */
  const produce = (producer: Redis): { ids: string[]; stop: () => Promise<void> } => {
    const ids: string[] = [];
    let on = true;
    const loop = (async () => {
      for (let i = 0; on; i++) {
        const id = await add(producer, i);
        if (id !== undefined) ids.push(id);
        await sleep(40);
      }
    })();
    return {
      ids,
      stop: async () => {
        on = false;
        await loop;
      },
    };
  };

  /** Connections named `name` on the server on `port` (and with `also` in their CLIENT LIST line). */
  const clientsNamed = async (port: number, name: string, also = ''): Promise<number> => {
    const direct = new Redis({ port, host: '127.0.0.1' });
    try {
      return ((await direct.client('LIST')) as string).split('\n').filter((l) => l.includes(` name=${name} `) && l.includes(also)).length;
    } finally {
      direct.disconnect();
    }
  };

  const onPrimary = async <T>(fn: (r: Redis) => Promise<T>): Promise<T> => {
    const direct = new Redis({ port: await deployment.primaryPort(), host: '127.0.0.1' });
    try {
      return await fn(direct);
    } finally {
      direct.disconnect();
    }
  };

  /** The run's verdict: nothing lost, Redis clean, the library's connections and config on the primary of now. */
  const settledOnNewPrimary = async (f: Fleet, ids: readonly string[], consumers: number): Promise<void> => {
    const missing = async (): Promise<string> => {
      const gone = ids.filter((id) => !f.processed.has(id));
      const evidence = await onPrimary(async (r) => ({
        pending: await r.xpending(`${service}-input`, `${service}-group`, '-', '+', 100),
        entries: await Promise.all(gone.map((id) => r.xrange(`${service}-input`, id, id))),
        locks: await r.keys(`${service}*MUTEX*`),
        dead: await r.xrange(`${service}-dead`, '-', '+'),
      })).catch((err: unknown) => String(err));
      const seen = f.notifications.filter((n) => gone.includes(n.payload.idInLbs)).map((n) => `${n.type} ${n.payload.idInLbs}`);
      seen.push(...gone.flatMap((id) => (f.other.get(id) ?? []).map((o) => `${o} ${id}`)));
      return `every stream processed (missing ${gone.join(', ')}; notifications ${seen.join(', ')}; on the primary ${JSON.stringify(evidence)})`;
    };
    let why = '';
    const done = await waitFor(() => ids.every((id) => f.processed.has(id)), 20_000);
    if (!done) why = await missing();
    expect(done, why).to.equal(true);
    const twice = [...f.processed.values()].filter((n) => n > 1).length;
    expect(twice, 'streams processed twice (their acknowledgement lost with the failover)').to.be.at.most(Math.ceil(ids.length / 10));
    expect(f.errors).to.deep.equal([]);
    await waitUntil(async () => (await onPrimary((r) => r.xlen(`${service}-input`))) === 0, 10_000, 'the LBS empty on the new primary');
    const port = await deployment.primaryPort();
    for (const role of ['rscrx-reader', 'rscrx-subscriber']) {
      let n = 0;
      await waitUntil(async () => (n = await clientsNamed(port, role)) === consumers, 5000, () => `${consumers} ${role} on the new primary (${n})`);
    }
    await waitUntil(async () => (await clientsNamed(port, 'rscrx-subscriber', ' psub=1 ')) === consumers, 5000, 'the keyspace pattern subscribed again on the new primary');
    await waitUntil(
      async () => {
        const [, flags = ''] = (await onPrimary((r) => r.config('GET', 'notify-keyspace-events'))) as string[];
        return flags.includes('K') && flags.includes('x');
      },
      3 * hb,
      'notify-keyspace-events (K, x) set on the new primary',
    );
  };

  /** A consumer of the fleet stops without releasing (as in a crash); one of the others must hear its locks expire on the primary of now and claim them. */
  const crashOneAndExpectClaims = async (f: Fleet, producer: Redis): Promise<void> => {
    const before = f.notifications.filter((n) => n.type === 'StreamExpired').length;
    const victim = new RedisStreamClient(sentinelConnection(), service, { consumerId: 'victim', hbInterval: hb });
    const owned: string[] = [];
    const sub = victim.init().subscribe((n) => n.type === 'StreamAdded' && owned.push(n.payload.idInLbs));
    running.push(sub);
    await sleep(hb);
    const ids: string[] = [];
    for (let i = 1000; i < 1006; i++) {
      const id = await add(producer, i);
      if (id !== undefined) ids.push(id);
    }
    await waitUntil(() => owned.length > 0, 5000, 'the victim to own a stream');
    sub.unsubscribe();
    await waitUntil(() => ids.every((id) => f.processed.has(id)), 15_000, () => `the victim's streams processed by the others (missing ${ids.filter((id) => !f.processed.has(id)).join(', ')})`);
    expect(f.notifications.filter((n) => n.type === 'StreamExpired').length, 'expiries heard from the new primary').to.be.greaterThan(before);
  };

  it('hands out streams added through Sentinel to clients connected through Sentinel', async () => {
    const producer = sentinelConnection();
    const f = fleet(2, 50);
    await sleep(hb);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await add(producer, i))!);
    await waitUntil(() => ids.every((id) => f.processed.get(id) === 1), 10_000, 'every stream processed once');
    const port = await deployment.primaryPort();
    expect(await clientsNamed(port, 'rscrx-reader'), 'readers (duplicated connections) on the primary').to.equal(2);
    expect(await clientsNamed(port, 'rscrx-subscriber'), 'subscribers on the primary').to.equal(2);
  });

  /** Three consumers and a producer through Sentinel; `failOver` moves the primary midway; then nothing may be lost. */
  const followsFailover = async (failOver: () => Promise<{ from: number; to: number }>): Promise<void> => {
    const f = fleet(3, 150);
    await sleep(hb);
    const production = produce(producerConnection());
    let failover: { from: number; to: number };
    try {
      await sleep(1000);
      failover = await failOver();
      await sleep(1000);
    } finally {
      await production.stop();
    }
    expect(failover.to).to.not.equal(failover.from);
    expect(production.ids.length).to.be.greaterThan(20);
    await settledOnNewPrimary(f, production.ids, 3);
    await crashOneAndExpectClaims(f, producerConnection());
  };

  it('follows a SENTINEL FAILOVER: re-reads and re-subscribes on the new primary, sets the keyspace flags there, loses nothing', async () => {
    await followsFailover(() => deployment.failover());
  });

  it('follows the replica promoted after a SIGKILL of the primary, loses nothing', async () => {
    await followsFailover(() => deployment.killPrimary());
  });
});
