/**
 * Hand-written entry readers on plain ioredis, for the entries scenarios: the data streams, their
 * locks, and the two designs of a committed position (see bench/scenarios/entries-design.ts).
 */
import type Redis from 'ioredis';

/** One XREAD / XREADGROUP reply: per stream, its entries as `[id, [field, value, ...]]`. */
export type XReply = [string, [string, string[]][]][] | null;

/** Streams (and locks held by `owner`) of one run: `streams × entries`, fields `n` and `type` (`end` on the last). */
export interface DataSet {
  readonly streams: readonly string[];
  readonly locks: readonly string[];
  readonly owner: string;
  readonly entriesPerStream: number;
}

export const dataStreamName = (prefix: string, i: number): string => `${prefix}:data-${String(i).padStart(5, '0')}`;

/**
 * XADDs `entriesPerStream` entries into each stream of `names` (pipelined), fields `n` and `type`
 * (`end` on the last entry of each, unless `endLast` is false: the stream then stays open).
 */
export const fillStreams = async (redis: Redis, names: readonly string[], entriesPerStream: number, endLast = true): Promise<void> => {
  let pipeline = redis.pipeline();
  let queued = 0;
  for (let e = 0; e < entriesPerStream; e++) {
    for (const s of names) {
      pipeline.xadd(s, '*', 'n', String(e), 'type', endLast && e === entriesPerStream - 1 ? 'end' : 'data');
      if (++queued === 5000) {
        await exec(pipeline);
        pipeline = redis.pipeline();
        queued = 0;
      }
    }
  }
  if (queued > 0) await exec(pipeline);
};

/** `fillStreams` into `count` streams named `dataStreamName(prefix, from + i)`; resolves the names. */
export const fillDataStreams = async (redis: Redis, prefix: string, count: number, entriesPerStream: number, from = 0): Promise<string[]> => {
  const streams = Array.from({ length: count }, (_, i) => dataStreamName(prefix, from + i));
  await fillStreams(redis, streams, entriesPerStream);
  return streams;
};

const exec = async (pipeline: ReturnType<Redis['pipeline']>): Promise<void> => {
  for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
};

/** Lock keys held by `owner` (no TTL: the designs' commits check them, nothing expires during a run). */
export const takeLocks = async (redis: Redis, streams: readonly string[], owner: string): Promise<string[]> => {
  const locks = streams.map((s) => `${s}:bench-lock`);
  const pipeline = redis.pipeline();
  for (const l of locks) pipeline.set(l, owner);
  await exec(pipeline);
  return locks;
};

/**
 * Design (a): KEYS = lock1, pos1, lock2, pos2, ...; ARGV = owner, id1, id2, ...
 * Writes each position whose lock `owner` holds; returns how many were refused.
 */
const COMMIT_IDS = `
local refused = 0
for i = 1, #KEYS / 2 do
  if redis.call('GET', KEYS[2 * i - 1]) == ARGV[1] then
    redis.call('SET', KEYS[2 * i], ARGV[i + 1])
  else
    refused = refused + 1
  end
end
return refused`;

/**
 * Design (b): KEYS = lock1, stream1, lock2, stream2, ...; ARGV = owner, group, n1, ids1..., n2, ids2...
 * XACKs each stream's ids whose lock `owner` holds; returns how many streams were refused.
 */
const ACK_FENCED = `
local refused = 0
local a = 3
for i = 1, #KEYS / 2 do
  local n = tonumber(ARGV[a])
  if redis.call('GET', KEYS[2 * i - 1]) == ARGV[1] then
    redis.call('XACK', KEYS[2 * i], ARGV[2], unpack(ARGV, a + 1, a + n))
  else
    refused = refused + 1
  end
  a = a + n + 1
end
return refused`;

type Scripted = Redis & {
  benchCommitIds(...args: (string | number)[]): Promise<number>;
  benchAckFenced(...args: (string | number)[]): Promise<number>;
};

const scripted = (redis: Redis): Scripted => {
  const r = redis as Scripted;
  if (typeof r.benchCommitIds !== 'function') {
    redis.defineCommand('benchCommitIds', { lua: COMMIT_IDS });
    redis.defineCommand('benchAckFenced', { lua: ACK_FENCED });
  }
  return r;
};

export const positionKey = (lock: string): string => `${lock}:committed`;
export const GROUP = 'bench-entries-group';

export interface LoopOptions {
  /** Streams per XREAD call (chunks of the owned set). */
  readonly keysPerRead: number;
  /** COUNT per stream per read. */
  readonly count: number;
  /** Called for each entry (the no-op handler). */
  readonly onEntry?: (stream: string, id: string, fields: string[]) => void;
}

/**
 * Round after round over the owned streams, in chunks of `keysPerRead`, until `total` entries are
 * handled: `read` handles one chunk and resolves how many entries it handled and how many commits
 * were refused. Resolves the refused commits.
 */
const inRounds = async (set: DataSet, total: number, keysPerRead: number, loop: string, read: (chunk: string[]) => Promise<readonly [number, number]>): Promise<number> => {
  let handled = 0;
  let refused = 0;
  while (handled < total) {
    let progressed = 0;
    for (let from = 0; from < set.streams.length; from += keysPerRead) {
      const [n, r] = await read(set.streams.slice(from, from + keysPerRead));
      progressed += n;
      refused += r;
    }
    if (progressed === 0) throw new Error(`${loop} loop: the streams ran dry after ${handled} of ${total}`);
    handled += progressed;
  }
  return refused;
};

/**
 * Design (a), the hand-written loop: multiplexed XREAD over the owned streams (in chunks), then
 * one fenced script call that writes every read stream's last id as its committed position.
 * Runs until `total` entries are handled; resolves how many commits were refused (0 here).
 */
export const committedIdLoop = (conn: Redis, set: DataSet, total: number, options: LoopOptions): Promise<number> => {
  const r = scripted(conn);
  const last = new Map<string, string>(set.streams.map((s) => [s, '0-0']));
  const lockOf = new Map<string, string>(set.streams.map((s, i) => [s, set.locks[i]!]));
  return inRounds(set, total, options.keysPerRead, 'committed-id', async (chunk) => {
    const reply = (await conn.xread('COUNT', options.count, 'STREAMS', ...chunk, ...chunk.map((s) => last.get(s)!))) as XReply;
    if (reply === null) return [0, 0];
    const keys: string[] = [];
    const ids: string[] = [];
    let progressed = 0;
    for (const [stream, entries] of reply) {
      for (const [id, fields] of entries) options.onEntry?.(stream, id, fields);
      const lastId = entries[entries.length - 1]![0];
      last.set(stream, lastId);
      const lock = lockOf.get(stream)!;
      keys.push(lock, positionKey(lock));
      ids.push(lastId);
      progressed += entries.length;
    }
    return [progressed, await r.benchCommitIds(keys.length, ...keys, set.owner, ...ids)];
  });
};

/** Creates the consumer group of design (b) on every stream, at 0. */
export const createGroups = async (redis: Redis, streams: readonly string[]): Promise<void> => {
  const pipeline = redis.pipeline();
  for (const s of streams) pipeline.xgroup('CREATE', s, GROUP, '0');
  await exec(pipeline);
};

/**
 * Design (b): XREADGROUP over the owned streams (in chunks, `>` each), then the XACKs of what was
 * read: `fenced` in one script call that checks each stream's lock, else one plain pipeline.
 */
export const consumerGroupLoop = (conn: Redis, set: DataSet, total: number, options: LoopOptions & { readonly fenced: boolean }): Promise<number> => {
  const r = scripted(conn);
  const lockOf = new Map<string, string>(set.streams.map((s, i) => [s, set.locks[i]!]));
  return inRounds(set, total, options.keysPerRead, 'consumer-group', async (chunk) => {
    const reply = (await conn.xreadgroup('GROUP', GROUP, set.owner, 'COUNT', options.count, 'STREAMS', ...chunk, ...chunk.map(() => '>'))) as XReply;
    if (reply === null) return [0, 0];
    let progressed = 0;
    if (options.fenced) {
      const keys: string[] = [];
      const args: string[] = [];
      for (const [stream, entries] of reply) {
        for (const [id, fields] of entries) options.onEntry?.(stream, id, fields);
        keys.push(lockOf.get(stream)!, stream);
        args.push(String(entries.length), ...entries.map(([id]) => id));
        progressed += entries.length;
      }
      return [progressed, await r.benchAckFenced(keys.length, ...keys, set.owner, GROUP, ...args)];
    }
    const pipeline = conn.pipeline();
    for (const [stream, entries] of reply) {
      for (const [id, fields] of entries) options.onEntry?.(stream, id, fields);
      pipeline.xack(stream, GROUP, ...entries.map(([id]) => id));
      progressed += entries.length;
    }
    await exec(pipeline);
    return [progressed, 0];
  });
};

/** used_memory of the server, bytes. */
export const usedMemory = async (redis: Redis): Promise<number> => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
