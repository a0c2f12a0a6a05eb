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

/** Most keys passed to one script call: keeps each call short so Redis stays responsive. */
export const KEYS_PER_CALL = 1000;

type ScriptName = 'extendLocks' | 'takeLocks' | 'claim' | 'finish' | 'releaseLock' | 'expireLock' | 'overdueLocks' | 'touchLocks';
type Raw = (...args: (string | number)[]) => Promise<unknown>;

const PREFIX = 'rscrx_';
const FILES: Record<ScriptName, string> = {
  extendLocks: 'extendLocks-n.lua',
  takeLocks: 'takeLocks-n.lua',
  claim: 'claim-3.lua',
  finish: 'finish-4.lua',
  releaseLock: 'releaseLock-2.lua',
  expireLock: 'expireLock-2.lua',
  overdueLocks: 'overdueLocks-2.lua',
  touchLocks: 'touchLocks-n.lua',
};
const source = (file: string): string => readFileSync(join(__dirname, 'lua', file), 'utf8');

/**
 * One typed method per Lua script (`lua/<name>-<numKeys>.lua`, `n` = any number). Scripts are
 * registered with ioredis `defineCommand` (EVALSHA, falling back to EVAL), under names prefixed
 * `rscrx_` on the connection passed in. `deadlines` is the service's sorted set of lock deadlines.
 */
export class Scripts {
  private readonly call: Record<ScriptName, Raw>;

  constructor(redis: Redis, private readonly deadlines: string) {
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
   * Extends (or re-takes) each lock; one script call per `KEYS_PER_CALL` keys. `ids` are the
   * locks' LBS entry ids: a vanished lock is re-taken only while its entry is pending for `owner`,
   * or when the epoch differs from `seenEpoch` (Redis lost its data). Also returns the epoch now.
   */
  async extendLocks(
    target: { readonly lbs: string; readonly group: string; readonly epochKey: string; readonly seenEpoch: string },
    lockKeys: readonly string[],
    ids: readonly string[],
    owner: string,
    ttl: number,
  ): Promise<{ statuses: LockStatus[]; epoch: string | undefined }> {
    let epoch: string | undefined;
    const statuses = await this.chunked(lockKeys.length, async (from, to) => {
      const keys = lockKeys.slice(from, to);
      const [codes, now] = (await this.call.extendLocks(
        keys.length + 3, this.deadlines, target.lbs, target.epochKey, ...keys,
        owner, ttl, target.group, target.seenEpoch, ...ids.slice(from, to),
      )) as [number[], string | null];
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
  async takeLocks(
    target: { readonly names: string; readonly lbs: string; readonly group: string },
    entries: readonly { readonly lockKey: string; readonly name: string; readonly id: string }[],
    owner: string,
    ttl: number,
  ): Promise<TakeResult[]> {
    const codes = (await this.chunked(entries.length, (from, to) => {
      const batch = entries.slice(from, to);
      return this.call.takeLocks(
        batch.length + 3, this.deadlines, target.names, target.lbs, ...batch.map((e) => e.lockKey),
        owner, ttl, target.group, ...batch.flatMap((e) => [e.name, e.id]),
      );
    })) as unknown as (number | string)[];
    return codes.map((code): TakeResult => (code === 1 ? 'taken' : code === 0 ? 'held' : { duplicateOf: String(code) }));
  }

  private async chunked(count: number, call: (from: number, to: number) => Promise<unknown>): Promise<number[]> {
    const chunks: Promise<unknown>[] = [];
    for (let i = 0; i < count; i += KEYS_PER_CALL) chunks.push(call(i, Math.min(count, i + KEYS_PER_CALL)));
    return ((await Promise.all(chunks)) as number[][]).flat();
  }

  async claim(lbs: string, lock: string, group: string, claimer: string, minIdle: number, id: string, ttl: number): Promise<ClaimResult> {
    const [code, detail] = (await this.call.claim(lbs, lock, this.deadlines, group, claimer, minIdle, id, ttl)) as [number, unknown];
    if (code === 1) return { kind: 'claimed', fields: detail as string[] };
    if (code === 0) return { kind: 'held', holder: String(detail) };
    return { kind: 'not-pending' };
  }

  async finish(lbs: string, names: string, lock: string, group: string, id: string, owner: string, name: string): Promise<FinishResult> {
    const [code, holder] = (await this.call.finish(lbs, lock, this.deadlines, names, group, id, owner, name)) as [number, unknown];
    if (code === 1) return { kind: 'finished' };
    if (code === 0) return { kind: 'held', holder: String(holder) };
    return { kind: 'not-pending', holder: typeof holder === 'string' ? holder : undefined };
  }

  async releaseLock(lock: string, owner: string): Promise<boolean> {
    return (await this.call.releaseLock(lock, this.deadlines, owner)) === 1;
  }

  async expireLock(lock: string, owner: string): Promise<boolean> {
    return (await this.call.expireLock(lock, this.deadlines, owner)) === 1;
  }

  /** Touches overdue locks (see lua/touchLocks-n.lua); resolves the number found gone. */
  async touchLocks(lockKeys: readonly string[]): Promise<number> {
    const counts = await this.chunked(lockKeys.length, async (from, to) => {
      const keys = lockKeys.slice(from, to);
      return [(await this.call.touchLocks(keys.length + 1, this.deadlines, ...keys)) as number];
    });
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Locks past their deadline, if this consumer won the interval's guard (else []). */
  async overdueLocks(guard: string, caller: string, intervalMs: number, limit: number): Promise<string[]> {
    return (await this.call.overdueLocks(this.deadlines, guard, caller, intervalMs, limit)) as string[];
  }
}
