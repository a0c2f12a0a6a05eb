/**
 * Scenario 1a: one heartbeat tick with 10k owned locks.
 *  - ours: a real `RedisStreamClient` in this process is handed 10k streams (readCount 1000);
 *    its heartbeat ticks every hbInterval/2 and extends all its locks with the batch script
 *    (`Scripts.extendLocks`, one call per 1000 locks, all calls sent at once). A tick is timed on
 *    the client's connection, from its first script call sent to its last one answered
 *    (support/heartbeat-probe.ts); the first ticks (2, quick: 1) are a warm-up;
 *  - baseline (the Go design): one compare-and-PEXPIRE script call per lock, each awaited before
 *    the next (one round trip per lock, as a per-stream timer does), over 10k plain lock keys;
 *  - information: the same per-lock script calls, all in one pipeline.
 * The tick at 100k locks is measured in the cpu-memory scenario.
 */
import type Redis from 'ioredis';
import { Subscription } from 'rxjs';
import { MUTEX_KEY_SEP, RedisStreamClient } from '../../lib';
import { HeartbeatProbe } from '../../support/heartbeat-probe';
import type { RedisServer } from '../../support/redis-server';
import { createGroup } from '../../support/service';
import { callScript, fillLbs } from '../lib/lbs';
import type { BenchConfig, Row } from '../lib/report';
import { fmt, median, nowMs, progress, waitOrThrow } from '../lib/stats';

const OWNER = 'redis-consumer-bench-hb';
const TTL = 2000;
const LOCKS = 10_000;

/** The Go library's per-lock extension: compare-and-PEXPIRE. */
const GO_EXTEND = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

const lockKeys = (service: string, n: number): string[] =>
  Array.from({ length: n }, (_, i) => `${service}:stream-${i}${MUTEX_KEY_SEP}1700000000000-${i}`);

/** Ticks of a real client's heartbeat with `LOCKS` owned streams. */
const clientTicks = async (server: RedisServer, warmups: number, runs: number): Promise<number[]> => {
  const service = 'bench-hb-client';
  const setup = server.connect();
  const conn = server.connect();
  const probe = new HeartbeatProbe(conn);
  const client = new RedisStreamClient(conn, service, { consumerId: 'bench-hb', readCount: 1000, hbInterval: TTL });
  let added = 0;
  let subscription: Subscription | undefined;
  try {
    await createGroup(setup, service);
    subscription = client.init().subscribe((n) => {
      if (n.type === 'StreamAdded') added++;
    });
    await fillLbs(setup, service, LOCKS);
    await waitOrThrow(() => added >= LOCKS, 60_000, `${LOCKS} streams handed to the client`);
    probe.recording = true;
    await waitOrThrow(() => probe.ticks().length >= warmups + runs, (warmups + runs + 3) * TTL, `${warmups + runs} heartbeat ticks`);
    probe.recording = false;
    const ticks = probe.ticks().slice(warmups, warmups + runs);
    const samples = ticks.map((t) => t.ms);
    progress(
      'heartbeat',
      `the client's heartbeat (${ticks[0]?.calls} script calls per tick), 10k locks: median ${fmt(median(samples), 2)} ms per tick (${samples.map((x) => fmt(x, 1)).join(', ')})`,
    );
    return samples;
  } finally {
    subscription?.unsubscribe();
    conn.disconnect();
    await setup.flushdb();
    setup.disconnect();
  }
};

const createLocks = async (redis: Redis, keys: readonly string[]): Promise<void> => {
  for (let i = 0; i < keys.length; i += 1000) {
    const pipeline = redis.pipeline();
    for (const key of keys.slice(i, i + 1000)) pipeline.set(key, OWNER, 'PX', 600_000);
    for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
  }
};

const timeTicks = async (label: string, warmups: number, runs: number, tick: () => Promise<void>): Promise<number[]> => {
  for (let i = 0; i < warmups; i++) await tick();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = nowMs();
    await tick();
    samples.push(nowMs() - t0);
  }
  progress('heartbeat', `${label}: median ${fmt(median(samples), 2)} ms per tick (${samples.map((s) => fmt(s, 1)).join(', ')})`);
  return samples;
};

export const heartbeatScenario = async (server: RedisServer, config: BenchConfig): Promise<Row[]> => {
  const ours = await clientTicks(server, config.quick ? 1 : 2, config.quick ? 4 : 11);

  const redis = server.connect();
  redis.defineCommand('benchGoExtend', { numberOfKeys: 1, lua: GO_EXTEND });
  const keys = lockKeys('bench-hb', LOCKS);
  await createLocks(redis, keys);
  progress('heartbeat', `10k plain lock keys created for the per-lock baselines`);
  const sequential = await timeTicks('per-lock script, one round trip each (Go design), 10k locks', 1, config.quick ? 3 : 5, async () => {
    for (const key of keys) {
      if ((await callScript(redis, 'benchGoExtend', key, OWNER, TTL)) !== 1) {
        throw new Error(`per-lock extension failed: ${key} holds ${await redis.get(key)} (pttl ${await redis.pttl(key)}, ${await redis.dbsize()} keys in the db)`);
      }
    }
  });
  const pipelined = await timeTicks('per-lock script, pipelined, 10k locks', 1, config.quick ? 5 : 11, async () => {
    const pipeline = redis.pipeline();
    for (const key of keys) (pipeline as unknown as Record<string, (...a: (string | number)[]) => unknown>).benchGoExtend!(key, OWNER, TTL);
    await pipeline.exec();
  });
  await redis.flushdb();
  redis.disconnect();

  const o = median(ours);
  const s = median(sequential);
  const p = median(pipelined);
  return [
    {
      id: 'heartbeat-10k',
      scenario: '1 heartbeat tick, 10k locks (ms)',
      ours: `${fmt(o, 1)} ms`,
      baseline: `${fmt(s, 0)} ms (per-lock, sequential)`,
      ratio: `${fmt(s / o, 1)}x fewer`,
      target: '>= 30x fewer',
      pass: s / o >= 30,
      values: { oursMs: o, baselineMs: s, ratio: s / o, oursSamples: ours, baselineSamples: sequential, extensionsPerSecond: LOCKS / (o / 1000) },
    },
    {
      id: 'heartbeat-10k-pipelined',
      scenario: '1 heartbeat tick, 10k locks, vs pipelined per-lock (ms)',
      ours: `${fmt(o, 1)} ms`,
      baseline: `${fmt(p, 1)} ms (per-lock, pipelined)`,
      ratio: `${fmt(p / o, 1)}x fewer`,
      target: '-',
      pass: null,
      values: { oursMs: o, baselineMs: p, ratio: p / o, baselineSamples: pipelined },
    },
  ];
};
