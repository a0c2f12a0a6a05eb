/**
 * Scenario 6: processing the entries of owned streams (`consumeStream`).
 *  - throughput: one `RedisStreamClient` in this process, started on an empty LBS; 1,000 LBS
 *    entries are added whose data streams hold 100 entries each (prefilled, the last one
 *    `type: end`); once the client owns all 1,000 (each handed to `processStreams`, its
 *    `consumeStream` held back by a gate), the clock starts and the gate opens; it stops at the
 *    100,000th id that `consumeStream` emits (handled by a no-op handler and committed), through
 *    `processStreams(client, (s) => consumeStream(client, s, noop, { until, readCount: 10 }))`,
 *    the no-op returning `EMPTY` (the synchronous handler the API documents: nothing is
 *    subscribed per entry, as the hand-written loop's no-op allocates nothing); for information,
 *    the same with a handler returning `of(undefined)` (an Observable made and subscribed per entry),
 *    default `commitEvery`; the client's readCount (LBS) 1000. As for the baseline, whose locks
 *    are taken before its clock, the hand-out is outside the clock (scenario 2 measures it).
 *    Baseline: the hand-written loop of scenario 6a, design (a) (bench/lib/entries.ts: multiplexed
 *    XREAD over the 1,000 streams, COUNT 10, one fenced script call writing the positions per
 *    read) on the same data, locks taken beforehand. Interleaved run by run, one warm-up, medians;
 *  - heap per idle owned stream: a child consumer (support/consumer.ts, --expose-gc, WORK=entries,
 *    REPORT=counts) is handed 20,000 streams whose data streams hold one entry; once it handled
 *    them all it waits on every stream. heapUsed after GC, minus heapUsed after GC before any
 *    stream, divided by the streams owned (the whole cost of an owned stream: its lease, its
 *    processStreams work and its reader). Baseline: the same with WORK=none (the streams only held
 *    by processStreams, the handler NEVER); the row judges what consumeStream adds;
 *  - latency: the client of the throughput run owning 1,000 streams (each with one entry handled),
 *    a producer on another connection of this process XADDs 5,000 entries/s spread over them
 *    (batches every 10 ms, field `t` = wall clock at the XADD); the handler takes now - t. The first
 *    second is a warm-up; 10 s measured (quick: 4 s);
 *  - failover resume: a survivor (child, CLAIM=1, WORK=entries) runs throughout; for each kill a
 *    victim (child, same) is handed 3 streams (LBS entries added one at a time until it got 3),
 *    into which this process XADDs an entry every 20 ms; 1.5-2.5 s later SIGKILL. The sample is kill ->
 *    the survivor's first handled entry of that stream (its own `handled` line, same clock).
 *    Default hbInterval (TTL 2000 ms).
 */
import { LBS_FIELD, lbsKey } from '../../lib';
import { COMMITTED_SEP } from '../../lib/keys';
import { ChildConsumer } from '../../support/child';
import type { RedisServer } from '../../support/redis-server';
import { createGroup, sleep } from '../../support/service';
import { committedIdLoop, fillStreams, takeLocks } from '../lib/entries';
import { Gate, NoopResult, withClient, withConnections } from '../lib/entries-client';
import { fillLbs, lbsJson, streamName } from '../lib/lbs';
import type { BenchConfig, Row } from '../lib/report';
import { fmt, median, nowMs, percentile, progress, waitFor, waitOrThrow } from '../lib/stats';
import { COUNT_PER_STREAM, ENTRIES_PER_STREAM, KEYS_PER_READ, STREAMS } from './entries-design';

const TTL = 2000;
let serviceCounter = 0;

/** Wall clock in ms with sub-ms precision (comparable across processes of one machine). */
const wallMs = (): number => performance.timeOrigin + performance.now();

/** The clock stops at the last id emitted (`lastAt`), not at the poll that saw it. */
const throughputOurs = (server: RedisServer, streams: number, perStream: number, result: NoopResult): Promise<number> =>
  withConnections(server, async (redis, conn) => {
    const service = `bench-en-ours-${++serviceCounter}`;
    await createGroup(redis, service);
    await fillStreams(
      redis,
      Array.from({ length: streams }, (_, i) => streamName(service, i)),
      perStream,
    );
    const gate = new Gate();
    return withClient(conn, service, () => undefined, async (state) => {
      await fillLbs(redis, service, streams);
      await waitOrThrow(() => state.failure !== undefined || state.owned >= streams, 60_000, `the client to own ${streams} streams`);
      const t0 = performance.now();
      gate.open();
      const total = streams * perStream;
      const ok = await waitFor(() => state.failure !== undefined || state.committed >= total, 120_000, 20);
      if (!ok) throw new Error(`${state.committed} of ${total} entries handled and committed after 120 s (outcomes ${JSON.stringify(Object.fromEntries(state.outcomes))})`);
      if (state.failure !== undefined) throw state.failure;
      return total / ((state.lastAt - t0) / 1000);
    }, gate, result);
  });

const throughputLoop = (server: RedisServer, streams: number, perStream: number): Promise<number> =>
  withConnections(server, async (redis, conn) => {
    const service = `bench-en-loop-${++serviceCounter}`;
    const names = Array.from({ length: streams }, (_, i) => streamName(service, i));
    await fillStreams(redis, names, perStream);
    const owner = 'redis-consumer-bench-loop';
    const set = { streams: names, locks: await takeLocks(redis, names, owner), owner, entriesPerStream: perStream };
    const total = streams * perStream;
    const t0 = nowMs();
    await committedIdLoop(conn, set, total, { keysPerRead: KEYS_PER_READ, count: COUNT_PER_STREAM, onEntry: () => undefined });
    return total / ((nowMs() - t0) / 1000);
  });

/** Entry latency XADD -> handler at `rate` entries/s over `streams` owned streams. */
const latency = (server: RedisServer, streams: number, rate: number, seconds: number): Promise<{ samples: number[]; sent: number; achievedRate: number }> =>
  withConnections(server, async (redis, conn) => {
    const service = `bench-en-lat-${++serviceCounter}`;
    const producer = server.connect();
    const names = Array.from({ length: streams }, (_, i) => streamName(service, i));
    let measuring = false;
    const samples: number[] = [];
    try {
      await createGroup(redis, service);
      await fillStreams(redis, names, 1, false);
      const onEntry = (fields: Record<string, string>): void => {
        if (measuring && fields.t !== undefined) samples.push(wallMs() - Number(fields.t));
      };
      return await withClient(conn, service, onEntry, async (state) => {
        await fillLbs(redis, service, streams);
        await waitOrThrow(() => state.failure !== undefined || state.committed >= streams, 60_000, `the first entry of ${streams} streams`);
        if (state.failure !== undefined) throw state.failure;
        let sent = 0;
        const start = nowMs();
        const end = start + (seconds + 1) * 1000;
        let next = 0;
        while (nowMs() < end) {
          const due = Math.floor(((nowMs() - start) / 1000) * rate);
          const pipeline = producer.pipeline();
          for (; sent < due; sent++) pipeline.xadd(names[next++ % streams]!, '*', 'type', 'data', 't', wallMs().toFixed(3));
          await pipeline.exec();
          if (!measuring && nowMs() - start >= 1000) measuring = true;
          await sleep(10);
        }
        const achievedRate = sent / ((nowMs() - start) / 1000);
        await waitFor(() => state.committed >= streams + sent, 5000);
        return { samples, sent, achievedRate };
      });
    } finally {
      producer.disconnect();
    }
  });

/** The idle client's heap per owned stream (child process, --expose-gc). */
const idleHeap = async (server: RedisServer, streams: number, work: 'entries' | 'none'): Promise<{ perStream: number; owned: number; before: number; after: number }> => {
  const service = `bench-en-heap-${work}`;
  const redis = server.connect();
  await createGroup(redis, service);
  await fillStreams(
    redis,
    Array.from({ length: streams }, (_, i) => streamName(service, i)),
    1,
    false,
  );
  const holder = new ChildConsumer(
    { redisUrl: server.url, service, pod: `bench-en-heap-${work}`, readCount: 1000, report: 'counts', target: streams, process: 'operators', work },
    { nodeFlags: ['--expose-gc'] },
  );
  try {
    await holder.waitFor('ready', { timeoutMs: 30_000 });
    await sleep(1000);
    const before = await holder.ask({ cmd: 'heap' }, 30_000);
    await fillLbs(redis, service, streams);
    // generous: on a loaded machine 20k hand-outs and first reads take minutes, and a heap taken before is not the row's
    await waitFor(() => !holder.alive || holder.of('owned').length > 0, 180_000, 50);
    // every stream's one entry handled and committed: the committed keys exist
    const committedKeys = async (): Promise<number> => {
      let cursor = '0';
      let n = 0;
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `*${COMMITTED_SEP}*`, 'COUNT', 10_000);
        cursor = next;
        n += keys.length;
      } while (cursor !== '0');
      return n;
    };
    const deadline = Date.now() + 180_000;
    while (work === 'entries' && Date.now() < deadline && (await committedKeys()) < streams) await sleep(250);
    await sleep(2500);
    const after = await holder.ask({ cmd: 'heap' }, 120_000);
    const owned = Number(after.owned);
    return { perStream: (Number(after.heapUsed) - Number(before.heapUsed)) / owned, owned, before: Number(before.heapUsed), after: Number(after.heapUsed) };
  } finally {
    await holder.stop();
    await redis.flushdb();
    redis.disconnect();
  }
};

/** SIGKILL of an owner -> the survivor handles the next entry of each of its streams, ms. */
const failoverResume = async (server: RedisServer, kills: number, perVictim: number, capMs: number): Promise<{ samples: number[]; timeouts: number }> => {
  const service = 'bench-en-fo';
  const redis = server.connect();
  const writer = server.connect();
  await createGroup(redis, service);
  const survivor = new ChildConsumer({ redisUrl: server.url, service, pod: 'bench-en-survivor', claim: true, process: 'operators', work: 'entries' });
  const samples: number[] = [];
  let timeouts = 0;
  let counter = 0;
  try {
    await survivor.waitFor('ready', { timeoutMs: 30_000 });
    for (let k = 0; k < kills; k++) {
      const victim = new ChildConsumer({ redisUrl: server.url, service, pod: `bench-en-victim-${k}`, claim: true, process: 'operators', work: 'entries' });
      await victim.waitFor('ready', { timeoutMs: 30_000 });
      const mine: string[] = [];
      const started = (c: ChildConsumer, name: string): boolean => c.of('started').some((e) => e.stream === name);
      while (mine.length < perVictim) {
        const name = `${service}:k${k}-s${counter++}`;
        await writer.xadd(name, '*', 'type', 'data', 'n', '0');
        await redis.xadd(lbsKey(service), '*', LBS_FIELD, lbsJson(name));
        await waitOrThrow(() => started(victim, name) || started(survivor, name), 10_000, `${name} handed out`);
        if (started(victim, name)) mine.push(name);
      }
      let writing = true;
      const writes = (async () => {
        for (let n = 1; writing; n++) {
          const pipeline = writer.pipeline();
          for (const name of mine) pipeline.xadd(name, '*', 'type', 'data', 'n', String(n));
          await pipeline.exec();
          await sleep(20);
        }
      })();
      await sleep(1500 + Math.random() * 1000);
      const killedAt = Date.now();
      await victim.kill();
      const firstAfter = (name: string): number | undefined => survivor.of('handled').find((e) => e.stream === name && e.at > killedAt)?.at;
      await waitFor(() => mine.every((name) => firstAfter(name) !== undefined), capMs, 20);
      writing = false;
      await writes;
      const got = mine.map((name) => firstAfter(name));
      for (const at of got) {
        if (at === undefined) timeouts++;
        samples.push(at === undefined ? Infinity : at - killedAt);
      }
      progress('entries', `  kill ${k + 1}/${kills}: the survivor handled the next entry after ${got.map((at) => (at === undefined ? 'timeout' : `${at - killedAt} ms`)).join(', ')}`);
    }
    return { samples, timeouts };
  } finally {
    await survivor.stop();
    await redis.flushdb();
    redis.disconnect();
    writer.disconnect();
  }
};

export const entriesScenario = async (server: RedisServer, config: BenchConfig): Promise<Row[]> => {
  const runs = config.quick ? 2 : 5;
  const ours: number[] = [];
  const oursOf: number[] = [];
  const loop: number[] = [];
  progress('entries', `throughput: ${STREAMS} streams x ${ENTRIES_PER_STREAM} entries, no-op handler; 1 warm-up + ${runs} runs each`);
  for (let run = 0; run <= runs; run++) {
    const o = await throughputOurs(server, STREAMS, ENTRIES_PER_STREAM, 'empty');
    const l = await throughputLoop(server, STREAMS, ENTRIES_PER_STREAM);
    const of = await throughputOurs(server, STREAMS, ENTRIES_PER_STREAM, 'of');
    if (run > 0) {
      ours.push(o);
      loop.push(l);
      oursOf.push(of);
    }
    progress('entries', `${run === 0 ? 'warm-up' : `run ${run}/${runs}`}: consumeStream ${fmt(o, 0)} entries/s (handler returning of(undefined): ${fmt(of, 0)}), hand-written loop ${fmt(l, 0)} entries/s`);
  }
  const heapStreams = 20_000;
  progress('entries', `heap: a child consumer owning ${heapStreams} idle streams, read by consumeStream, then another only holding as many`);
  const heap = await idleHeap(server, heapStreams, 'entries');
  progress('entries', `heap: ${fmt(heap.perStream, 0)} B per owned stream with consumeStream (${heap.owned} owned; heapUsed ${fmt(heap.before / 2 ** 20, 1)} -> ${fmt(heap.after / 2 ** 20, 1)} MiB)`);
  const held = await idleHeap(server, heapStreams, 'none');
  progress('entries', `heap: ${fmt(held.perStream, 0)} B per owned stream only held (${held.owned} owned; heapUsed ${fmt(held.before / 2 ** 20, 1)} -> ${fmt(held.after / 2 ** 20, 1)} MiB)`);
  const latencySeconds = config.quick ? 4 : 10;
  progress('entries', `latency: 5,000 entries/s over ${STREAMS} owned streams for ${latencySeconds} s (+1 s warm-up)`);
  const lat = await latency(server, STREAMS, 5000, latencySeconds);
  progress('entries', `latency: ${lat.samples.length} samples at ${fmt(lat.achievedRate, 0)} entries/s: p50 ${fmt(percentile(lat.samples, 50), 2)} ms, p99 ${fmt(percentile(lat.samples, 99), 2)} ms, max ${fmt(Math.max(...lat.samples), 1)} ms`);
  const kills = config.quick ? 3 : 8;
  progress('entries', `failover resume: ${kills} kills of an owner of 3 streams (TTL ${TTL} ms)`);
  const fo = await failoverResume(server, kills, 3, config.failoverCapMs);
  const m = { ours: median(ours), oursOf: median(oursOf), loop: median(loop) };
  const p99 = percentile(lat.samples, 99);
  const foP99 = percentile(fo.samples, 99);
  return [
    {
      id: 'entries-throughput',
      scenario: `6 consumeStream, ${STREAMS} streams x ${ENTRIES_PER_STREAM} entries, no-op, incl. commits (entries/s)`,
      ours: `${fmt(m.ours, 0)}/s`,
      baseline: `${fmt(m.loop, 0)}/s hand-written loop`,
      ratio: `${fmt(m.ours / m.loop, 2)}x`,
      target: '>= 0.7x',
      pass: m.ours / m.loop >= 0.7,
      values: { medians: m, samples: { ours, loop }, runs, ratio: m.ours / m.loop, keysPerRead: KEYS_PER_READ, countPerStream: COUNT_PER_STREAM, handler: 'EMPTY' },
    },
    {
      id: 'entries-throughput-of',
      scenario: `6 the same, the handler returning of(undefined) (an Observable subscribed per entry)`,
      ours: `${fmt(m.oursOf, 0)}/s`,
      baseline: `${fmt(m.loop, 0)}/s hand-written loop`,
      ratio: `${fmt(m.oursOf / m.loop, 2)}x`,
      target: '-',
      pass: null,
      values: { medians: m, samples: { oursOf, loop }, runs, ratio: m.oursOf / m.loop, handler: 'of(undefined)' },
    },
    {
      id: 'entries-idle-heap',
      scenario: `6 client heap per idle owned stream, added by consumeStream (its reader), ${fmt(heapStreams / 1000, 0)}k streams`,
      ours: `+${fmt(heap.perStream - held.perStream, 0)} B (${fmt(heap.perStream, 0)} B in all)`,
      baseline: `${fmt(held.perStream, 0)} B only held (processStreams)`,
      ratio: '-',
      target: '<= 1024 B added',
      pass: heap.perStream - held.perStream <= 1024 && heap.owned >= heapStreams && held.owned >= heapStreams,
      values: { ...heap, heldOnly: held, addedByConsumeStream: heap.perStream - held.perStream },
    },
    {
      id: 'entries-latency',
      scenario: '6 entry latency XADD -> handler at 5k entries/s (ms)',
      ours: `p50 ${fmt(percentile(lat.samples, 50), 2)} / p99 ${fmt(p99, 2)}`,
      baseline: '-',
      ratio: '-',
      target: 'p99 <= 20',
      pass: p99 <= 20 && lat.samples.length > 0,
      values: { p50: percentile(lat.samples, 50), p99, max: Math.max(...lat.samples), samples: lat.samples.length, sent: lat.sent, achievedRate: lat.achievedRate, seconds: latencySeconds },
    },
    {
      id: 'entries-failover-resume',
      scenario: '6 failover resume: SIGKILL -> survivor handles the next entry (ms)',
      ours: `p50 ${fmt(percentile(fo.samples, 50), 0)} / p99 ${fmt(foP99, 0)}${fo.timeouts > 0 ? ` (${fo.timeouts} timeouts)` : ''}`,
      baseline: `TTL ${TTL}`,
      ratio: `${fmt(foP99 / TTL, 2)}x TTL`,
      target: `p99 <= ${TTL + 250}`,
      pass: foP99 <= TTL + 250,
      values: { p50: percentile(fo.samples, 50), p99: foP99, samples: fo.samples, timeouts: fo.timeouts, kills, streamsPerVictim: 3 },
    },
  ];
};
