import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';

/** What the heartbeat script says of each lock (see lua/extendLocks-n.lua). */
export enum LockStatus {
  Lost = 0,
  Extended = 1,
  Retaken = 2,
}

export type ClaimResult =
  | { readonly kind: 'claimed'; readonly fields: string[] }
  | { readonly kind: 'held'; readonly holder: string }
  | { readonly kind: 'not-pending' };

export type FinishResult =
  | { readonly kind: 'finished' }
  | { readonly kind: 'held'; readonly holder: string }
  | { readonly kind: 'not-pending'; readonly holder: string | undefined };

/** What `takeLocks` says of one new entry. */
export type TakeResult = 'taken' | 'held' | { readonly duplicateOf: string };

/** The earlier of two stream entry ids (`<ms>-<seq>`, compared as numbers). */
export const earlierId = (a: string, b: string): string => {
  const ad = a.indexOf('-');
  const bd = b.indexOf('-');
  if (ad !== bd) return ad < bd ? a : b;
  const am = a.slice(0, ad);
  const bm = b.slice(0, bd);
  if (am !== bm) return am < bm ? a : b;
  if (a.length !== b.length) return a.length < b.length ? a : b;
  return a <= b ? a : b;
};

/** Most keys passed to one script call: keeps each call short so Redis stays responsive. */
export const KEYS_PER_CALL = 1000;

/**
 * The arguments of one call of a `-n` script over `entries[from, to)`: the key count, the fixed
 * keys, one key per entry, the fixed arguments, then each entry's arguments (`argvOf`, in order).
 * Built in one preallocated array: these calls carry up to 1000 entries on the heartbeat and
 * hand-out paths.
 */
export const scriptArgs = <E>(
  fixedKeys: readonly string[],
  entries: readonly E[],
  from: number,
  to: number,
  keyOf: (entry: E) => string,
  fixedArgv: readonly (string | number)[],
  argvOf: readonly ((entry: E) => string | number)[] = [],
): (string | number)[] => {
  const n = to - from;
  const width = argvOf.length;
  const firstKey = 1 + fixedKeys.length;
  const firstArgv = firstKey + n + fixedArgv.length;
  const args: (string | number)[] = new Array(firstArgv + width * n);
  args[0] = fixedKeys.length + n;
  for (let k = 0; k < fixedKeys.length; k++) args[1 + k] = fixedKeys[k]!;
  for (let a = 0; a < fixedArgv.length; a++) args[firstKey + n + a] = fixedArgv[a]!;
  for (let i = 0; i < n; i++) {
    const entry = entries[from + i]!;
    args[firstKey + i] = keyOf(entry);
    for (let a = 0; a < width; a++) args[firstArgv + width * i + a] = argvOf[a]!(entry);
  }
  return args;
};

type ScriptName = 'extendLocks' | 'takeLocks' | 'claim' | 'finish' | 'releaseLock' | 'expireLock' | 'overdueConsumers' | 'touchLocks';
type Raw = (...args: (string | number)[]) => Promise<unknown>;

const PREFIX = 'rscrx_';
const FILES: Record<ScriptName, string> = {
  extendLocks: 'extendLocks-n.lua',
  takeLocks: 'takeLocks-n.lua',
  claim: 'claim-n.lua',
  finish: 'finish-n.lua',
  releaseLock: 'releaseLock-2.lua',
  expireLock: 'expireLock-2.lua',
  overdueConsumers: 'overdueConsumers-2.lua',
  touchLocks: 'touchLocks-2.lua',
};
const source = (file: string): string => readFileSync(join(__dirname, 'lua', file), 'utf8');

/** The keys and names every script of one consumer works on (see `keys.ts`). */
export interface ScriptContext {
  readonly lbs: string;
  readonly group: string;
  /** Sorted set: consumer -> deadline (ms, Redis clock). */
  readonly deadlines: string;
  /** Hash: DataStreamName -> LBS id in charge. */
  readonly names: string;
  readonly epochKey: string;
  /** This consumer's name (lock value, group consumer). */
  readonly owner: string;
  /** This consumer's set of lock keys. */
  readonly ownLocks: string;
  /** Lock TTL, ms. */
  readonly ttl: number;
}

/**
 * One typed method per Lua script (`lua/<name>-<numKeys>.lua`, `n` = any number). Scripts are
 * registered with ioredis `defineCommand` (EVALSHA, falling back to EVAL), under names prefixed
 * `rscrx_` on the connection passed in.
 */
export class Scripts {
  private readonly call: Record<ScriptName, Raw>;

  constructor(redis: Redis, private readonly ctx: ScriptContext) {
    const commands = redis as unknown as Record<string, Raw | undefined>;
    const call = {} as Record<ScriptName, Raw>;
    for (const [name, file] of Object.entries(FILES) as [ScriptName, string][]) {
      const keys = Number(/-(\d+)\.lua$/.exec(file)?.[1]);
      if (commands[PREFIX + name] === undefined) {
        redis.defineCommand(PREFIX + name, Number.isNaN(keys) ? { lua: source(file) } : { lua: source(file), numberOfKeys: keys });
      }
      call[name] = (...args) => (commands[PREFIX + name] as Raw).apply(redis, args);
    }
    this.call = call;
  }

  /**
   * Extends (or re-takes) each lock and moves this consumer's deadline; one script call per
   * `KEYS_PER_CALL` keys, all sent at once. A vanished lock is re-taken only while its entry (the
   * id in the lock key) is pending for this consumer, or when the epoch differs from `seenEpoch`
   * (Redis lost its data). Also returns the epoch now.
   */
  async extendLocks(lockKeys: readonly string[], seenEpoch: string): Promise<{ statuses: LockStatus[]; epoch: string | undefined }> {
    const { deadlines, lbs, epochKey, ownLocks, owner, ttl, group } = this.ctx;
    let epoch: string | undefined;
    const statuses = await this.chunked(lockKeys.length, async (from, to) => {
      const args = scriptArgs([deadlines, lbs, epochKey, ownLocks], lockKeys, from, to, (key) => key, [owner, ttl, group, seenEpoch, from === 0 ? 1 : 0]);
      const [codes, now] = (await this.call.extendLocks(...args)) as [number[], string | null];
      epoch = now ?? undefined;
      return codes;
    });
    return { statuses: statuses as LockStatus[], epoch };
  }

  /**
   * SET NX PX of each entry's lock, one script call per `KEYS_PER_CALL` entries. Per entry:
   * 'taken', 'held' (by another consumer), or the id of another unfinished entry of the same data
   * stream (a duplicate: one data stream is handled by one LBS entry at a time).
   */
  async takeLocks(entries: readonly { readonly lockKey: string; readonly name: string; readonly id: string }[]): Promise<TakeResult[]> {
    const { deadlines, names, lbs, ownLocks, owner, ttl, group } = this.ctx;
    const codes = (await this.chunked(entries.length, (from, to) => {
      let first = entries[from]!.id;
      let last = first;
      for (let i = from; i < to; i++) {
        const id = entries[i]!.id;
        first = earlierId(first, id);
        if (earlierId(last, id) === last) last = id;
      }
      const args = scriptArgs([deadlines, names, lbs, ownLocks], entries, from, to, (e) => e.lockKey, [owner, ttl, group, first, last], [(e) => e.name, (e) => e.id]);
      return this.call.takeLocks(...args);
    })) as unknown as (number | string)[];
    return codes.map((code): TakeResult => (code === 1 ? 'taken' : code === 0 ? 'held' : { duplicateOf: String(code) }));
  }

  /**
   * Finishes streams (see lua/finish-n.lua): one script call per `KEYS_PER_CALL` entries, one
   * result per entry, in order.
   */
  async finish(entries: readonly { readonly lockKey: string; readonly id: string; readonly name: string }[]): Promise<FinishResult[]> {
    const { lbs, names, ownLocks, group, owner } = this.ctx;
    const replies = (await this.chunked(entries.length, (from, to) => {
      const args = scriptArgs([lbs, names, ownLocks], entries, from, to, (e) => e.lockKey, [group, owner], [(e) => e.id, (e) => e.name]);
      return this.call.finish(...args);
    })) as unknown as [number, unknown][];
    return replies.map(([code, holder]): FinishResult => {
      if (code === 1) return { kind: 'finished' };
      if (code === 0) return { kind: 'held', holder: String(holder) };
      return { kind: 'not-pending', holder: typeof holder === 'string' ? holder : undefined };
    });
  }

  private async chunked(count: number, call: (from: number, to: number) => Promise<unknown>): Promise<number[]> {
    const chunks: Promise<unknown>[] = [];
    for (let i = 0; i < count; i += KEYS_PER_CALL) chunks.push(call(i, Math.min(count, i + KEYS_PER_CALL)));
    return ((await Promise.all(chunks)) as number[][]).flat();
  }

  /** Claims entries whose lock is gone (see lua/claim-n.lua): one script call per `KEYS_PER_CALL`, one result per entry, in order. */
  async claim(entries: readonly { readonly lockKey: string; readonly id: string; readonly minIdle: number }[]): Promise<ClaimResult[]> {
    const { lbs, deadlines, ownLocks, group, owner, ttl } = this.ctx;
    const replies = (await this.chunked(entries.length, (from, to) => {
      const args = scriptArgs([lbs, deadlines, ownLocks], entries, from, to, (e) => e.lockKey, [group, owner, ttl], [(e) => e.id, (e) => e.minIdle]);
      return this.call.claim(...args);
    })) as unknown as [number, unknown][];
    return replies.map(([code, detail]): ClaimResult => {
      if (code === 1) return { kind: 'claimed', fields: detail as string[] };
      if (code === 0) return { kind: 'held', holder: String(detail) };
      return { kind: 'not-pending' };
    });
  }

  async releaseLock(lock: string): Promise<boolean> {
    return (await this.call.releaseLock(lock, this.ctx.ownLocks, this.ctx.owner)) === 1;
  }

  async expireLock(lock: string): Promise<boolean> {
    return (await this.call.expireLock(lock, this.ctx.ownLocks, this.ctx.owner)) === 1;
  }

  /** Consumers past their deadline, if this consumer won the interval's guard (else []). */
  async overdueConsumers(guard: string, intervalMs: number, limit: number): Promise<string[]> {
    return (await this.call.overdueConsumers(this.ctx.deadlines, guard, this.ctx.owner, intervalMs, limit)) as string[];
  }

  /**
   * Touches every lock of an overdue consumer (see lua/touchLocks-2.lua), one SSCAN page of about
   * `KEYS_PER_CALL` per call; resolves the number of locks found gone.
   */
  async touchLocks(consumer: string, consumerLocks: string): Promise<number> {
    let cursor = '0';
    let least = -1;
    let gone = 0;
    do {
      const [next, found, min] = (await this.call.touchLocks(this.ctx.deadlines, consumerLocks, consumer, cursor, KEYS_PER_CALL, least)) as [string, number, number];
      cursor = next;
      gone += found;
      least = min;
    } while (cursor !== '0');
    return gone;
  }
}
