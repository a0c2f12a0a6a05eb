import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import type Redis from 'ioredis';
import { decodeLbsEntry } from '../codecs/lbs-message';
import { lockKey, serviceKeys } from '../keys';
import type { ServiceKeys } from '../keys';
import { streamStateKeys } from './stream-state';

/** Entries past a committed position counted at most (the lag is shown as "more than" beyond). */
export const LAG_CAP = 10_000;
/** Dead letters `inspect` shows (the newest); `dead-letters list` shows them all. */
export const INSPECT_DEAD_LETTERS = 20;
const PAGE = 1000;

/** A consumer of the group, as Redis shows it. */
export interface ConsumerView {
  readonly name: string;
  /**
   * `live`: it holds the lock of at least one of its pending entries and (for consumers of this
   * library) its heartbeat deadline has not passed; `overdue`: it has pending entries but holds
   * none of their locks, or its deadline passed; `idle`: no pending entry (nothing to heartbeat).
   */
  readonly status: 'live' | 'overdue' | 'idle';
  /** Pending entries whose lock it holds. */
  readonly streamsOwned: number;
  /** Its entries in the group's pending list (XINFO CONSUMERS). */
  readonly pending: number;
  /** When it last extended its locks (ISO), from its deadline or its locks' TTL; null when it holds none. */
  readonly lastHeartbeat: string | null;
  /** Ms since then. */
  readonly lastHeartbeatAgoMs: number | null;
  /** Its heartbeat deadline in `<service>-deadlines` (consumers of this library only), ISO. */
  readonly deadline: string | null;
  /** Ms since its last read or claim (XINFO CONSUMERS `idle`). */
  readonly idleMs: number | null;
  /** True when it keeps a lock set `<service>-locks:<consumer>` (consumers of this library; Go consumers do not). */
  readonly lockSet: boolean;
}

/** One pending LBS entry: a stream handed out and not done. */
export interface StreamView {
  readonly dataStreamName: string | null;
  readonly idInLbs: string;
  /** The consumer the entry is pending for. */
  readonly consumer: string;
  /** The lock's holder; null when there is no lock. */
  readonly owner: string | null;
  /** The lock's remaining TTL in ms; null when there is no lock. */
  readonly lockTtlMs: number | null;
  /**
   * `owned`: locked by the consumer it is pending for; `held-by-other`: locked by another
   * consumer; `unlocked`: no lock (its owner stopped heartbeating: the next claim or recovery
   * takes it); `entry-missing`: the LBS entry is gone or does not decode.
   */
  readonly state: 'owned' | 'held-by-other' | 'unlocked' | 'entry-missing';
  readonly deliveries: number;
  /** Ms since the entry was last delivered or claimed. */
  readonly idleMs: number;
  /** Present only when the stream's fence key exists. */
  readonly fence?: string;
  /** Present only when the stream's committed-position key exists: the last entry id handled. */
  readonly committed?: string;
  /** The data stream's last entry id (with `committed`); null when the stream is empty or gone. */
  readonly lastEntryId?: string | null;
  /** Entries after `committed` (with `committed`), at most `LAG_CAP`; `lagCapped` when there are more. */
  readonly lag?: number;
  readonly lagCapped?: boolean;
}

export interface DeadLetterView {
  readonly id: string;
  /** When it was dead-lettered (from its id), ISO. */
  readonly at: string;
  readonly sourceId: string | null;
  readonly reason: string | null;
  readonly consumer: string | null;
  /** The fields of the refused LBS entry, as they were. */
  readonly fields: Record<string, string>;
}

/** What `inspect --json` prints. */
export interface Snapshot {
  readonly service: string;
  /** Redis's clock when the snapshot was taken, ISO. */
  readonly at: string;
  readonly lbs: { readonly key: string; readonly group: string; readonly groupExists: boolean; readonly length: number; readonly pending: number };
  readonly consumers: readonly ConsumerView[];
  readonly streams: readonly StreamView[];
  readonly deadLetters: { readonly key: string; readonly count: number; readonly newest: readonly DeadLetterView[] };
}

/** The service has no LBS and no dead letters in this Redis. */
export class UnknownServiceError extends Error {
  override readonly name = 'UnknownServiceError';
  constructor(
    readonly service: string,
    readonly known: readonly string[],
  ) {
    super(
      `No service "${service}" in this Redis: ${serviceKeys(service).lbs} does not exist.` +
        (known.length > 0 ? ` Services found: ${known.join(', ')}.` : ' No LBS stream (<service>-input) found at all.'),
    );
  }
}

const pairs = (flat: readonly unknown[]): Record<string, unknown> => {
  const o: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) o[String(flat[i])] = flat[i + 1];
  return o;
};

const fieldsOf = (flat: readonly string[]): Record<string, string> => pairs(flat) as Record<string, string>;
const iso = (ms: number): string => new Date(ms).toISOString();
const idTime = (id: string): number => Number(id.split('-')[0]);

/** Each reply of a pipeline: its value, or null for a failed command. */
const replies = async (pipeline: ReturnType<Redis['pipeline']>): Promise<unknown[]> =>
  ((await pipeline.exec()) ?? []).map(([err, value]) => (err ? null : value));

/** Up to ten services of this Redis (keys `<service>-input` that are streams), for the unknown-service message. */
export const knownServices = async (redis: Redis): Promise<string[]> => {
  const found = new Set<string>();
  let cursor = '0';
  let rounds = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', '*-input', 'COUNT', 1000, 'TYPE', 'stream');
    keys.forEach((k) => found.add(k.slice(0, -'-input'.length)));
    cursor = next;
  } while (cursor !== '0' && found.size < 10 && ++rounds < 100);
  return [...found].sort().slice(0, 10);
};

/** Throws `UnknownServiceError` unless the service's LBS (or its dead-letter stream) exists. */
export const assertService = async (redis: Redis, service: string): Promise<ServiceKeys> => {
  const keys = serviceKeys(service);
  if ((await redis.exists(keys.lbs, keys.dead)) === 0) throw new UnknownServiceError(service, await knownServices(redis));
  return keys;
};

/** Every entry of the group's pending list: [id, consumer, idle ms, deliveries]. */
const pendingEntries = async (redis: Redis, keys: ServiceKeys): Promise<[string, string, number, number][]> => {
  const all: [string, string, number, number][] = [];
  let start = '-';
  for (;;) {
    const page = (await redis.xpending(keys.lbs, keys.group, start, '+', PAGE)) as [string, string, number, number][];
    all.push(...page.map(([id, c, idle, n]) => [id, c, Number(idle), Number(n)] as [string, string, number, number]));
    if (page.length < PAGE) return all;
    start = `(${page[page.length - 1]![0]}`;
  }
};

export const parseDeadLetter = ([id, flat]: [string, string[]]): DeadLetterView => {
  const f = fieldsOf(flat);
  const { 'source-id': sourceId, reason, consumer } = f;
  return { id, at: iso(idTime(id)), sourceId: sourceId ?? null, reason: reason ?? null, consumer: consumer ?? null, fields: fieldsOf(flat.slice(6)) };
};

/**
 * Reads the state of a service from Redis, as both libraries leave it: consumers from the group
 * (and this library's deadlines), streams from the pending list of the LBS and the lock key of
 * each entry (so it works with Go consumers, which keep no lock sets), dead letters from
 * `<service>-dead`. Read-only.
 *
 * @param hbInterval the fleet's heartbeat interval (lock TTL), ms: when a consumer last extended its locks is derived from it
 */
export const snapshot = async (redis: Redis, service: string, hbInterval: number): Promise<Snapshot> => {
  const keys = await assertService(redis, service);
  const [[seconds, micros], length, deadCount] = await Promise.all([
    redis.time() as Promise<(string | number)[]>,
    redis.xlen(keys.lbs),
    redis.xlen(keys.dead),
  ]);
  const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  const groups = ((await redis.xinfo('GROUPS', keys.lbs).catch(() => [])) as unknown[][]).map(pairs);
  const groupExists = groups.some((g) => g.name === keys.group);
  const consumerRows = groupExists ? ((await redis.xinfo('CONSUMERS', keys.lbs, keys.group)) as unknown[][]).map(pairs) : [];
  const pending = groupExists ? await pendingEntries(redis, keys) : [];

  // The LBS entry of each pending id, then its lock (and the stream's position keys).
  const entries = await replies(pending.reduce((p, [id]) => p.xrange(keys.lbs, id, id), redis.pipeline()));
  const names = pending.map(([id], i) => {
    const found = (entries[i] as [string, string[]][] | null)?.[0];
    if (found === undefined) return null;
    return pipe(
      decodeLbsEntry({ id, fields: found[1] }, Infinity),
      E.fold(
        () => null,
        (entry) => entry.payload.dataStreamName,
      ),
    );
  });
  const lockReplies = await replies(
    pending.reduce((p, [id], i) => {
      const name = names[i];
      if (name === null) return p;
      const lock = lockKey(name, id);
      const state = streamStateKeys(name, id);
      return p.get(lock).pttl(lock).get(state.fence).get(state.committed);
    }, redis.pipeline()),
  );

  const streams: StreamView[] = [];
  const tail: { index: number; name: string; committed: string }[] = [];
  let r = 0;
  pending.forEach(([id, consumer, idleMs, deliveries], i) => {
    const name = names[i] ?? null;
    const base = { dataStreamName: name, idInLbs: id, consumer, deliveries, idleMs };
    if (name === null) {
      streams.push({ ...base, owner: null, lockTtlMs: null, state: 'entry-missing' });
      return;
    }
    const [owner, pttl, fence, committed] = lockReplies.slice(r, (r += 4)) as [string | null, number | null, string | null, string | null];
    const state = owner === null ? 'unlocked' : owner === consumer ? 'owned' : 'held-by-other';
    streams.push({
      ...base,
      owner,
      lockTtlMs: owner === null ? null : Math.max(0, Number(pttl)),
      state,
      ...(typeof fence === 'string' ? { fence } : {}),
      ...(typeof committed === 'string' ? { committed } : {}),
    });
    if (typeof committed === 'string') tail.push({ index: streams.length - 1, name, committed });
  });

  // Lag behind the last entry, for the streams whose committed position exists.
  if (tail.length > 0) {
    const lagReplies = await replies(
      tail.reduce((p, { name, committed }) => p.xrevrange(name, '+', '-', 'COUNT', 1).xrange(name, `(${committed}`, '+', 'COUNT', LAG_CAP + 1), redis.pipeline()),
    );
    tail.forEach(({ index }, k) => {
      const last = (lagReplies[2 * k] as [string, string[]][] | null)?.[0]?.[0] ?? null;
      const after = (lagReplies[2 * k + 1] as unknown[] | null)?.length ?? 0;
      streams[index] = { ...streams[index]!, lastEntryId: last, lag: Math.min(after, LAG_CAP), lagCapped: after > LAG_CAP };
    });
  }

  // Consumers: the group's, and this library's deadlines and lock sets.
  const deadlines = new Map<string, number>();
  const flat = await redis.zrange(keys.deadlines, 0, -1, 'WITHSCORES');
  for (let i = 0; i + 1 < flat.length; i += 2) deadlines.set(flat[i]!, Number(flat[i + 1]));
  const byName = new Map(consumerRows.map((c) => [String(c.name), c]));
  const consumerNames = [...new Set([...byName.keys(), ...deadlines.keys()])].sort();
  const lockSets = await replies(consumerNames.reduce((p, c) => p.exists(keys.locksOf(c)), redis.pipeline()));
  const consumers = consumerNames.map((name, i): ConsumerView => {
    const row = byName.get(name);
    const mine = streams.filter((s) => s.consumer === name);
    const owned = streams.filter((s) => s.owner === name && s.consumer === name);
    const deadline = deadlines.get(name);
    const pendingCount = row === undefined ? mine.length : Number(row.pending);
    const heartbeatAt =
      owned.length === 0 ? null : deadline !== undefined ? deadline - hbInterval : now - (hbInterval - Math.max(...owned.map((s) => s.lockTtlMs ?? 0)));
    const status = pendingCount === 0 && mine.length === 0 ? 'idle' : owned.length > 0 && (deadline === undefined || deadline >= now) ? 'live' : 'overdue';
    return {
      name,
      status,
      streamsOwned: owned.length,
      pending: pendingCount,
      lastHeartbeat: heartbeatAt === null ? null : iso(Math.min(heartbeatAt, now)),
      lastHeartbeatAgoMs: heartbeatAt === null ? null : Math.max(0, now - heartbeatAt),
      deadline: deadline === undefined ? null : iso(deadline),
      idleMs: row === undefined ? null : Number(row.idle),
      lockSet: lockSets[i] === 1,
    };
  });

  const newest = ((await redis.xrevrange(keys.dead, '+', '-', 'COUNT', INSPECT_DEAD_LETTERS)) as [string, string[]][]).reverse().map(parseDeadLetter);
  return {
    service,
    at: iso(now),
    lbs: { key: keys.lbs, group: keys.group, groupExists, length, pending: pending.length },
    consumers,
    streams,
    deadLetters: { key: keys.dead, count: deadCount, newest },
  };
};
