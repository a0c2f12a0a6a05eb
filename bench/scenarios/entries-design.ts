/**
 * Scenario 6a: the two designs of a committed position, on plain ioredis (no library code), one
 * consumer connection, 1,000 data streams × 100 entries (fields `n`, `type`), each stream's lock
 * held by the consumer. Timed from the first read to the last entry's commit:
 *  - (a) committed id: multiplexed XREAD over the streams (chunks of KEYS_PER_READ keys, COUNT
 *    per stream), then one script call per read that checks each read stream's lock and SETs its
 *    last id as the committed position (one string key per stream);
 *  - (b) consumer group per data stream: XREADGROUP over the same chunks (`>` each), then the
 *    XACKs of what was read, in one pipeline (b, unfenced) or in one script call that checks
 *    each stream's lock before its XACK (b fenced, the same guarantee as (a)).
 * Redis memory per stream: used_memory after the run minus used_memory before the first read
 * (streams filled, locks taken; for (b) before its XGROUP CREATEs), divided by the streams: the
 * position keys of (a), the groups, their consumer and (empty) PELs of (b).
 * Designs are interleaved run by run, on fresh keys each run; one warm-up run each; medians.
 */
import type { RedisServer } from '../../support/redis-server';
import { DataSet, committedIdLoop, consumerGroupLoop, createGroups, fillDataStreams, takeLocks, usedMemory } from '../lib/entries';
import type { BenchConfig, Row } from '../lib/report';
import { fmt, median, nowMs, progress } from '../lib/stats';

export const STREAMS = 1000;
export const ENTRIES_PER_STREAM = 100;
/** Streams per read call and COUNT per stream: the same for every design (and the hand-written loop of scenario 6). */
export const KEYS_PER_READ = 1000;
export const COUNT_PER_STREAM = 10;

type Design = 'ids' | 'groups' | 'groups-fenced';
const DESIGNS: readonly Design[] = ['ids', 'groups', 'groups-fenced'];

interface Measured {
  readonly rate: number;
  readonly bytesPerStream: number;
  readonly redisUsPerEntry: number;
}

let runCounter = 0;

const runOnce = async (server: RedisServer, design: Design, streams: number, perStream: number): Promise<Measured> => {
  const prefix = `bench-ed-${design}-${++runCounter}`;
  const redis = server.connect();
  const conn = server.connect();
  try {
    await redis.flushdb();
    const owner = 'redis-consumer-bench-entries';
    const names = await fillDataStreams(redis, prefix, streams, perStream);
    const set: DataSet = { streams: names, locks: await takeLocks(redis, names, owner), owner, entriesPerStream: perStream };
    await conn.ping();
    const mem0 = await usedMemory(redis);
    if (design !== 'ids') await createGroups(redis, names);
    const total = streams * perStream;
    const options = { keysPerRead: KEYS_PER_READ, count: COUNT_PER_STREAM };
    const redis0 = server.cpuMs() ?? NaN;
    const t0 = nowMs();
    const refused = design === 'ids' ? await committedIdLoop(conn, set, total, options) : await consumerGroupLoop(conn, set, total, { ...options, fenced: design === 'groups-fenced' });
    const seconds = (nowMs() - t0) / 1000;
    const redisUs = ((server.cpuMs() ?? NaN) - redis0) * 1000;
    if (refused > 0) throw new Error(`${design}: ${refused} commits refused with every lock held`);
    const mem1 = await usedMemory(redis);
    return { rate: total / seconds, bytesPerStream: (mem1 - mem0) / streams, redisUsPerEntry: redisUs / total };
  } finally {
    await redis.flushdb();
    redis.disconnect();
    conn.disconnect();
  }
};

export const entriesDesignScenario = async (server: RedisServer, config: BenchConfig): Promise<Row[]> => {
  const runs = config.quick ? 2 : 5;
  const samples = Object.fromEntries(DESIGNS.map((d) => [d, [] as Measured[]])) as Record<Design, Measured[]>;
  progress('entries-design', `${STREAMS} streams x ${ENTRIES_PER_STREAM} entries per run, ${KEYS_PER_READ} streams per read, COUNT ${COUNT_PER_STREAM}; 1 warm-up + ${runs} runs per design`);
  for (let run = 0; run <= runs; run++) {
    for (const design of DESIGNS) {
      const m = await runOnce(server, design, STREAMS, ENTRIES_PER_STREAM);
      if (run > 0) samples[design].push(m);
      progress(
        'entries-design',
        `${run === 0 ? 'warm-up' : `run ${run}/${runs}`} ${design}: ${fmt(m.rate, 0)} entries/s, ${fmt(m.bytesPerStream, 0)} B of Redis memory per stream, redis-server ${fmt(m.redisUsPerEntry, 2)} µs CPU per entry`,
      );
    }
  }
  const rate = (d: Design): number => median(samples[d].map((m) => m.rate));
  const bytes = (d: Design): number => median(samples[d].map((m) => m.bytesPerStream));
  const redisUs = (d: Design): number => median(samples[d].map((m) => m.redisUsPerEntry));
  const values = {
    streams: STREAMS,
    entriesPerStream: ENTRIES_PER_STREAM,
    keysPerRead: KEYS_PER_READ,
    countPerStream: COUNT_PER_STREAM,
    runs,
    medians: Object.fromEntries(DESIGNS.map((d) => [d, { entriesPerSecond: rate(d), redisBytesPerStream: bytes(d), redisUsPerEntry: redisUs(d) }])),
    samples,
  };
  return [
    {
      id: 'entries-design-rate',
      scenario: '6a committed id (fenced) vs consumer group per stream, XREADGROUP + fenced XACK (entries/s)',
      ours: `${fmt(rate('ids'), 0)}/s ids`,
      baseline: `${fmt(rate('groups-fenced'), 0)}/s groups`,
      ratio: `${fmt(rate('ids') / rate('groups-fenced'), 2)}x`,
      target: '-',
      pass: null,
      values,
    },
    {
      id: 'entries-design-rate-unfenced',
      scenario: '6a committed id (fenced) vs consumer group per stream, XREADGROUP + pipelined XACK, unfenced (entries/s)',
      ours: `${fmt(rate('ids'), 0)}/s ids`,
      baseline: `${fmt(rate('groups'), 0)}/s groups`,
      ratio: `${fmt(rate('ids') / rate('groups'), 2)}x`,
      target: '-',
      pass: null,
      values: { ratio: rate('ids') / rate('groups') },
    },
    {
      id: 'entries-design-memory',
      scenario: '6a Redis memory per stream: committed id vs consumer group (B)',
      ours: `${fmt(bytes('ids'), 0)} B ids`,
      baseline: `${fmt(bytes('groups-fenced'), 0)} B groups`,
      ratio: `${fmt(bytes('ids') / bytes('groups-fenced'), 2)}x`,
      target: '-',
      pass: null,
      values: { idsBytesPerStream: bytes('ids'), groupsBytesPerStream: bytes('groups-fenced'), groupsUnfencedBytesPerStream: bytes('groups') },
    },
    {
      id: 'entries-design-redis-cpu',
      scenario: '6a redis-server CPU per entry: committed id vs consumer group, fenced (µs)',
      ours: `${fmt(redisUs('ids'), 2)} µs ids`,
      baseline: `${fmt(redisUs('groups-fenced'), 2)} µs groups`,
      ratio: `${fmt(redisUs('ids') / redisUs('groups-fenced'), 2)}x`,
      target: '-',
      pass: null,
      values: { idsUs: redisUs('ids'), groupsFencedUs: redisUs('groups-fenced'), groupsUs: redisUs('groups') },
    },
  ];
};
