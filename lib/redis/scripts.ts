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

export type FinishResult = { readonly kind: 'finished' } | { readonly kind: 'held'; readonly holder: string };

/** Most keys passed to one script call: keeps each call short so Redis stays responsive. */
export const KEYS_PER_CALL = 1000;

type ScriptName = 'extendLocks' | 'claim' | 'finish' | 'releaseLock' | 'expireLock';
type Raw = (...args: (string | number)[]) => Promise<unknown>;

const PREFIX = 'rscrx_';
const source = (file: string): string => readFileSync(join(__dirname, 'lua', file), 'utf8');

/**
 * One typed method per Lua script. Scripts are registered with ioredis `defineCommand` (EVALSHA,
 * falling back to EVAL), under names prefixed `rscrx_` on the connection passed in.
 */
export class Scripts {
  private readonly call: Record<ScriptName, Raw>;

  constructor(redis: Redis) {
    const files: Record<ScriptName, string> = {
      extendLocks: 'extendLocks-n.lua',
      claim: 'claim-2.lua',
      finish: 'finish-2.lua',
      releaseLock: 'releaseLock-1.lua',
      expireLock: 'expireLock-1.lua',
    };
    const commands = redis as unknown as Record<string, Raw | undefined>;
    const call = {} as Record<ScriptName, Raw>;
    for (const [name, file] of Object.entries(files) as [ScriptName, string][]) {
      const keys = Number(/-(\d+)\.lua$/.exec(file)?.[1]);
      if (commands[PREFIX + name] === undefined) {
        redis.defineCommand(PREFIX + name, Number.isNaN(keys) ? { lua: source(file) } : { lua: source(file), numberOfKeys: keys });
      }
      call[name] = (...args) => (commands[PREFIX + name] as Raw).apply(redis, args);
    }
    this.call = call;
  }

  /** Extends (or re-takes) each lock; one script call per `KEYS_PER_CALL` keys. */
  async extendLocks(lockKeys: readonly string[], owner: string, ttl: number): Promise<LockStatus[]> {
    const chunks: Promise<unknown>[] = [];
    for (let i = 0; i < lockKeys.length; i += KEYS_PER_CALL) {
      const keys = lockKeys.slice(i, i + KEYS_PER_CALL);
      chunks.push(this.call.extendLocks(keys.length, ...keys, owner, ttl));
    }
    return ((await Promise.all(chunks)) as LockStatus[][]).flat();
  }

  async claim(lbs: string, lock: string, group: string, claimer: string, minIdle: number, id: string, ttl: number): Promise<ClaimResult> {
    const [code, detail] = (await this.call.claim(lbs, lock, group, claimer, minIdle, id, ttl)) as [number, unknown];
    if (code === 1) return { kind: 'claimed', fields: detail as string[] };
    if (code === 0) return { kind: 'held', holder: String(detail) };
    return { kind: 'not-pending' };
  }

  async finish(lbs: string, lock: string, group: string, id: string, owner: string): Promise<FinishResult> {
    const [code, holder] = (await this.call.finish(lbs, lock, group, id, owner)) as [number, unknown];
    return code === 1 ? { kind: 'finished' } : { kind: 'held', holder: String(holder) };
  }

  async releaseLock(lock: string, owner: string): Promise<boolean> {
    return (await this.call.releaseLock(lock, owner)) === 1;
  }

  async expireLock(lock: string, owner: string): Promise<boolean> {
    return (await this.call.expireLock(lock, owner)) === 1;
  }
}
