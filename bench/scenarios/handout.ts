/**
 * Scenario 2: hand-out throughput from one consumer process (this one), on a prefilled LBS.
 * Each run uses a fresh service whose LBS holds N entries before the consumer starts; the clock
 * runs from the consumer's start (connections already open where the system allows it) to the
 * N-th entry handled.
 *  - ours, StreamAdded alone: a real `RedisStreamClient` (`readCount` = the bench's --read-count)
 *    until N `StreamAdded`; each entry is then locked but not acknowledged (pending);
 *  - ours, StreamAdded + doneStream: the same, calling `doneStream` on every `StreamAdded` at once
 *    (lock released, XACK, XDEL), until N `doneStream` completed: the same work as the raw
 *    ceiling and as a BullMQ job, so the targets compare this one;
 *  - raw ceiling: hand-written ioredis on one connection: XREADGROUP COUNT n, then one pipeline of
 *    SET NX PX + XACK + XDEL per entry, repeated (and, for information, SET NX PX only);
 *  - BullMQ: Queue.addBulk of N no-op jobs (before the clock starts), then one Worker with a no-op
 *    processor, `concurrency` --bullmq-concurrency (default 100), removeOnComplete, until N
 *    `completed` events.
 * Systems are interleaved run by run; one warm-up run each; the median of the runs is reported.
 */
import { Queue, Worker } from 'bullmq';
import type Redis from 'ioredis';
import { Subscription } from 'rxjs';
import { RedisStreamClient, groupName, lbsKey, lockKey } from '../../lib';
import type { RedisServer } from '../../support/redis-server';
import { createGroup } from '../../support/service';
import { fillLbs } from '../lib/lbs';
import type { BenchConfig, Row } from '../lib/report';
import { fmt, median, nowMs, progress, waitOrThrow } from '../lib/stats';

/** Default BullMQ worker concurrency (--bullmq-concurrency): see docs/performance.md for how it was chosen. */
export const BULLMQ_CONCURRENCY = 100;
const TTL = 2000;

export type System = 'ours-added' | 'ours-done' | 'raw-full' | 'raw-lock' | 'bullmq';
let serviceCounter = 0;

/** One run: entries per second, and CPU per entry of this process (the consumer) and of redis-server. */
export interface Measured {
  readonly rate: number;
  readonly clientUsPerEntry: number;
  readonly redisUsPerEntry: number;
}

/** Starts the clock and the CPU meters; `stop(n)` reads them. */
const meter = (server: RedisServer) => {
  const t0 = nowMs();
  const cpu0 = process.cpuUsage();
  const redis0 = server.cpuMs() ?? NaN;
  return {
    stop: (n: number): Measured => {
      const seconds = (nowMs() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      return {
        rate: n / seconds,
        clientUsPerEntry: (cpu.user + cpu.system) / n,
        redisUsPerEntry: (((server.cpuMs() ?? NaN) - redis0) * 1000) / n,
      };
    },
  };
};

/** Entries per second of one run of `system` over `n` entries. */
export const runOnce = async (system: System, server: RedisServer, n: number, readCount: number, concurrency: number): Promise<Measured> => {
  const service = `bench-ho-${system}-${++serviceCounter}`;
  const redis = server.connect();
  try {
    if (system === 'bullmq') return await runBullmq(server, service, n, concurrency);
    await createGroup(redis, service);
    await fillLbs(redis, service, n);
    if (system === 'ours-added' || system === 'ours-done') return await runOurs(server, redis, service, n, readCount, system === 'ours-done');
    return await runRaw(server, redis, service, n, readCount, system === 'raw-full');
  } finally {
    await redis.flushdb();
    redis.disconnect();
  }
};

const runOurs = async (server: RedisServer, redis: Redis, service: string, n: number, readCount: number, withDone: boolean): Promise<Measured> => {
  const conn = redis.duplicate();
  conn.on('error', () => undefined);
  await conn.ping();
  const client = new RedisStreamClient(conn, service, { consumerId: `bench-${service}`, readCount });
  let added = 0;
  let done = 0;
  let failure: unknown;
  const clock = meter(server);
  const subscription: Subscription = client.init().subscribe({
    next: (notification) => {
      if (notification.type !== 'StreamAdded') return;
      added++;
      if (withDone) {
        client.doneStream(notification.payload.dataStreamName).subscribe({
          complete: () => void done++,
          error: (err: unknown) => (failure = err),
        });
      }
    },
    error: (err: unknown) => (failure = err),
  });
  try {
    await waitOrThrow(() => failure !== undefined || (withDone ? done : added) >= n, 120_000, `${n} entries handed out by the client`);
    if (failure !== undefined) throw failure;
    return clock.stop(n);
  } finally {
    subscription.unsubscribe();
    conn.disconnect();
  }
};

type XReply = [string, [string, string[]][]][] | null;

const runRaw = async (server: RedisServer, redis: Redis, service: string, n: number, count: number, full: boolean): Promise<Measured> => {
  const conn = redis.duplicate();
  conn.on('error', () => undefined);
  await conn.ping();
  const lbs = lbsKey(service);
  const group = groupName(service);
  const me = `redis-consumer-raw-${service}`;
  let handled = 0;
  const clock = meter(server);
  while (handled < n) {
    const reply = (await conn.xreadgroup('GROUP', group, me, 'COUNT', count, 'STREAMS', lbs, '>')) as XReply;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) throw new Error(`raw hand-out: the LBS ran dry after ${handled} of ${n}`);
    const pipeline = conn.pipeline();
    for (const [id, fields] of entries) {
      const { DataStreamName } = JSON.parse(fields[1]!) as { DataStreamName: string };
      pipeline.set(lockKey(DataStreamName, id), me, 'PX', TTL, 'NX');
      if (full) {
        pipeline.xack(lbs, group, id);
        pipeline.xdel(lbs, id);
      }
    }
    const replies = (await pipeline.exec()) ?? [];
    if (replies.some(([err]) => err !== null)) throw new Error('raw hand-out: a pipelined command failed');
    handled += entries.length;
  }
  const measured = clock.stop(n);
  conn.disconnect();
  return measured;
};

const runBullmq = async (server: RedisServer, name: string, n: number, concurrency: number): Promise<Measured> => {
  const connection = { host: '127.0.0.1', port: server.port, maxRetriesPerRequest: null };
  const queue = new Queue(name, { connection });
  for (let i = 0; i < n; i += 1000) {
    await queue.addBulk(Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ name: 'stream', data: { n: i + k } })));
  }
  let completed = 0;
  let failed = 0;
  const worker = new Worker(name, async () => undefined, {
    connection,
    concurrency,
    autorun: false,
    removeOnComplete: { count: 0 },
    removeOnFail: { count: 0 },
  });
  worker.on('completed', () => void completed++);
  worker.on('failed', () => void failed++);
  worker.on('error', () => undefined);
  await worker.waitUntilReady();
  const clock = meter(server);
  void worker.run();
  try {
    await waitOrThrow(() => completed + failed >= n, 120_000, `${n} BullMQ jobs`);
    if (failed > 0) throw new Error(`${failed} BullMQ no-op jobs failed`);
    return clock.stop(n);
  } finally {
    await worker.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
};

export const handoutScenario = async (server: RedisServer, config: BenchConfig): Promise<Row[]> => {
  const n = config.quick ? 20_000 : 50_000;
  const runs = config.quick ? 2 : 5;
  const systems: System[] = ['ours-done', 'raw-full', 'bullmq', 'ours-added', 'raw-lock'];
  const samples = Object.fromEntries(systems.map((s) => [s, [] as number[]])) as Record<System, number[]>;
  const cpu = Object.fromEntries(systems.map((s) => [s, [] as Measured[]])) as Record<System, Measured[]>;
  progress('handout', `${n} entries per run, readCount ${config.readCount}, BullMQ concurrency ${config.bullmqConcurrency}; 1 warm-up + ${runs} runs per system`);
  for (let run = 0; run <= runs; run++) {
    for (const system of systems) {
      const measured = await runOnce(system, server, n, config.readCount, config.bullmqConcurrency);
      if (run > 0) {
        samples[system].push(measured.rate);
        cpu[system].push(measured);
      }
      progress(
        'handout',
        `${run === 0 ? 'warm-up' : `run ${run}/${runs}`} ${system}: ${fmt(measured.rate, 0)} entries/s (CPU per entry: consumer ${fmt(measured.clientUsPerEntry, 1)} µs, redis-server ${fmt(measured.redisUsPerEntry, 1)} µs)`,
      );
    }
  }
  const m = Object.fromEntries(systems.map((s) => [s, median(samples[s])])) as Record<System, number>;
  const cpuPerEntry = Object.fromEntries(
    systems.map((s) => [s, { consumerUs: median(cpu[s].map((c) => c.clientUsPerEntry)), redisUs: median(cpu[s].map((c) => c.redisUsPerEntry)) }]),
  );
  const common = { entriesPerRun: n, runs, readCount: config.readCount, bullmqConcurrency: config.bullmqConcurrency, medians: m, samples, cpuPerEntry };
  return [
    {
      id: 'handout-vs-raw',
      scenario: `2 hand-out + doneStream vs raw pipelined (entries/s, COUNT ${config.readCount})`,
      ours: `${fmt(m['ours-done'], 0)}/s`,
      baseline: `${fmt(m['raw-full'], 0)}/s raw`,
      ratio: `${fmt(m['ours-done'] / m['raw-full'], 2)}x`,
      target: '>= 0.8x',
      pass: m['ours-done'] / m['raw-full'] >= 0.8,
      values: { ...common, ratio: m['ours-done'] / m['raw-full'] },
    },
    {
      id: 'handout-vs-bullmq',
      scenario: '2 hand-out + doneStream vs BullMQ no-op jobs (/s)',
      ours: `${fmt(m['ours-done'], 0)}/s`,
      baseline: `${fmt(m.bullmq, 0)}/s BullMQ`,
      ratio: `${fmt(m['ours-done'] / m.bullmq, 2)}x`,
      target: '>= 1.5x',
      pass: m['ours-done'] / m.bullmq >= 1.5,
      values: { ratio: m['ours-done'] / m.bullmq },
    },
    {
      id: 'handout-added-only',
      scenario: '2 StreamAdded alone vs raw SET NX only (/s)',
      ours: `${fmt(m['ours-added'], 0)}/s`,
      baseline: `${fmt(m['raw-lock'], 0)}/s raw`,
      ratio: `${fmt(m['ours-added'] / m['raw-lock'], 2)}x`,
      target: '-',
      pass: null,
      values: { ratio: m['ours-added'] / m['raw-lock'], vsRawFull: m['ours-added'] / m['raw-full'], vsBullmq: m['ours-added'] / m.bullmq },
    },
  ];
};
