import type { Cluster } from 'ioredis';
import type Redis from 'ioredis';
import { MUTEX_KEY_SEP } from '../keys';
import { ClaimResult, CommitResult, Extension, FinishResult, LockStatus, MemberInput, NewEntry, TakeResult } from '../port';
import type { MemberRecord } from '../rules/balance';
import { idRange } from '../rules/entry-ids';
import { source } from './lua-source';
import { parseMembers, scriptArgs } from './script-args';

/** Most keys passed to one script call: keeps each call short so Redis stays responsive. */
export const KEYS_PER_CALL = 1000;

/** The result codes of every script (`lua/include/codes.lua`). */
export enum Code {
  Ok = 1,
  Held = 0,
  NotPending = -1,
  Retaken = 2,
  Duplicate = -2,
}

type ScriptName = 'extendLocks' | 'extendLock' | 'takeLocks' | 'claim' | 'finish' | 'expireLock' | 'overdueConsumers' | 'touchLocks' | 'leave' | 'commit' | 'ttls';
type Raw = (...args: (string | number)[]) => Promise<unknown>;
/** What every `-n` script returns: one code per entry and, beside it, its detail (false when none). */
type PerEntry = [readonly number[], readonly unknown[], ...unknown[]];

const PREFIX = 'rscrx_';
const FILES: Record<ScriptName, string> = {
  extendLocks: 'extendLocks-n.lua',
  extendLock: 'extendLock-1.lua',
  takeLocks: 'takeLocks-n.lua',
  claim: 'claim-n.lua',
  finish: 'finish-n.lua',
  expireLock: 'expireLock-2.lua',
  overdueConsumers: 'overdueConsumers-2.lua',
  touchLocks: 'touchLocks-2.lua',
  leave: 'leave-2.lua',
  commit: 'commit-n.lua',
  ttls: 'ttls-n.lua',
};

/** The keys and names every script of one consumer works on (see `keys.ts`). */
export interface ScriptContext {
  readonly lbs: string;
  readonly group: string;
  /** Sorted set: consumer -> deadline (ms, Redis clock). */
  readonly deadlines: string;
  /** Hash: DataStreamName -> LBS id in charge. */
  readonly names: string;
  readonly epoch: string;
  /** This consumer's name (lock value, group consumer). */
  readonly owner: string;
  /** This consumer's set of lock keys. */
  readonly ownLocks: string;
  /** Hash: consumer -> its member record (the fleet's membership). */
  readonly members: string;
  /** Lock TTL, ms. */
  readonly ttl: number;
}

const HELD: TakeResult = { kind: 'held' };
const NOT_PENDING: TakeResult & ClaimResult = { kind: 'not-pending' };
const FINISHED: FinishResult = { kind: 'finished' };
const STATUS: Record<number, LockStatus> = { [Code.Ok]: LockStatus.Extended, [Code.Retaken]: LockStatus.Retaken };

/**
 * One typed method per Lua script (`lua/<name>-<numKeys>.lua`, `n` = any number), and the one
 * place where the scripts' codes become typed results. Scripts are registered with ioredis
 * `defineCommand` (EVALSHA, falling back to EVAL), under names prefixed `rscrx_`.
 */
export class Scripts {
  private readonly call: Record<ScriptName, Raw>;

  constructor(redis: Redis | Cluster, private readonly ctx: ScriptContext) {
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
   * (Redis lost its data). With `member`, the first call also writes this consumer's member record
   * and reads the registry back (one call even when there is no lock).
   */
  async extendLocks(lockKeys: readonly string[], seenEpoch: string, fences: readonly number[] = [], member?: MemberInput, partial = false): Promise<Extension> {
    const { deadlines, lbs, epoch: epochKey, ownLocks, owner, ttl, group, members: membersKey } = this.ctx;
    let epoch: string | undefined;
    let members: MemberRecord[] | undefined;
    let now: number | undefined;
    const record = member === undefined ? '' : `${Number.isFinite(member.capacity) ? member.capacity : -1} ${member.owned} ${member.incarnation}`;
    const indexes = lockKeys.map((_, i) => i);
    const results = await this.chunked(
      Math.max(lockKeys.length, record === '' ? 0 : 1),
      async (from, to) => {
        const first = from === 0;
        const fixed = [owner, ttl, group, seenEpoch, first && !partial ? 1 : 0, MUTEX_KEY_SEP, first ? record : '', member?.ttlMs ?? 0];
        const args = scriptArgs([deadlines, lbs, epochKey, ownLocks, membersKey], indexes, from, Math.min(to, lockKeys.length), (i) => lockKeys[i]!, fixed, [(i) => fences[i] ?? 0], ['fence']);
        const reply = (await this.call.extendLocks(...args)) as PerEntry;
        if (first) {
          epoch = (reply[2] as string | null) ?? undefined;
          if (Array.isArray(reply[3])) members = parseMembers(reply[3] as string[]);
          now = Number(reply[4]);
        }
        return reply;
      },
      (code, fence) => ({ status: STATUS[code] ?? LockStatus.Lost, fence: typeof fence === 'number' ? fence : undefined }),
    );
    const extended = results.slice(0, lockKeys.length);
    return { statuses: extended.map((r) => r.status), fences: extended.map((r) => r.fence), epoch, members, now };
  }

  /**
   * Extends each lock alone, one call per lock, all at once (see lua/extendLock-1.lua): the
   * heartbeat's fallback while a Cluster moves the locks' slot. Extended, lost (held by another
   * consumer), or undefined for a lock gone (the batch call decides whether to re-take it).
   */
  async extendEach(lockKeys: readonly string[]): Promise<(LockStatus | undefined)[]> {
    const { owner, ttl } = this.ctx;
    const codes = (await Promise.all(lockKeys.map((key) => this.call.extendLock(key, owner, ttl)))) as number[];
    return codes.map((code) => (code === Code.Ok ? LockStatus.Extended : code === Code.Held ? LockStatus.Lost : undefined));
  }

  /** SET NX PX of each new entry's lock, one script call per `KEYS_PER_CALL` entries (see lua/takeLocks-n.lua). */
  async takeLocks(entries: readonly NewEntry[]): Promise<TakeResult[]> {
    const { deadlines, names, lbs, ownLocks, owner, ttl, group } = this.ctx;
    return this.chunked(
      entries.length,
      (from, to) => {
        const { first, last } = idRange(entries.slice(from, to).map((e) => e.id));
        const args = scriptArgs([deadlines, names, lbs, ownLocks], entries, from, to, (e) => e.lockKey, [owner, ttl, group, first, last], [(e) => e.name, (e) => e.id], ['fence']);
        return this.call.takeLocks(...args) as Promise<PerEntry>;
      },
      (code, detail): TakeResult => {
        if (code === Code.Ok) return { kind: 'taken', fence: Number(detail) };
        if (code === Code.Duplicate) return { kind: 'duplicate', of: String(detail) };
        return code === Code.Held ? HELD : NOT_PENDING;
      },
    );
  }

  /** Finishes streams (see lua/finish-n.lua): one script call per `KEYS_PER_CALL` entries, one result per entry, in order. */
  async finish(entries: readonly { readonly lockKey: string; readonly id: string; readonly name: string }[]): Promise<FinishResult[]> {
    const { lbs, names, ownLocks, group, owner } = this.ctx;
    return this.chunked(
      entries.length,
      (from, to) => {
        const args = scriptArgs([lbs, names, ownLocks], entries, from, to, (e) => e.lockKey, [group, owner], [(e) => e.id, (e) => e.name], ['committed', 'fence']);
        return this.call.finish(...args) as Promise<PerEntry>;
      },
      (code, detail): FinishResult => {
        if (code === Code.Ok) return FINISHED;
        if (code === Code.Held) return { kind: 'held', holder: String(detail) };
        return { kind: 'not-pending', holder: typeof detail === 'string' ? detail : undefined };
      },
    );
  }

  /** Claims entries whose lock is gone (see lua/claim-n.lua): one script call per `KEYS_PER_CALL`, one result per entry, in order. */
  async claim(entries: readonly { readonly lockKey: string; readonly id: string; readonly minIdle: number; readonly name: string }[]): Promise<ClaimResult[]> {
    const { lbs, deadlines, ownLocks, names, group, owner, ttl } = this.ctx;
    return this.chunked(
      entries.length,
      (from, to) => {
        const args = scriptArgs([lbs, deadlines, ownLocks, names], entries, from, to, (e) => e.lockKey, [group, owner, ttl], [(e) => e.id, (e) => e.minIdle, (e) => e.name], ['fence']);
        return this.call.claim(...args) as Promise<PerEntry>;
      },
      (code, detail, fence): ClaimResult => {
        if (code === Code.Ok) return { kind: 'claimed', fields: detail as string[], fence: Number(fence) };
        if (code === Code.Retaken) return { kind: 'claimed', fields: detail as string[], fence: Number(fence), takenBack: true };
        if (code === Code.Held) return { kind: 'held', holder: String(detail) };
        if (code === Code.Duplicate) return { kind: 'duplicate', of: String(detail) };
        return NOT_PENDING;
      },
    );
  }

  /** Commits each stream's position while this consumer holds its lock (see lua/commit-n.lua): one script call per `KEYS_PER_CALL`, one result per stream, in order. */
  async commit(entries: readonly { readonly lockKey: string; readonly position: string }[]): Promise<CommitResult[]> {
    return this.chunked(
      entries.length,
      (from, to) => this.call.commit(...scriptArgs([], entries, from, to, (e) => e.lockKey, [this.ctx.owner], [(e) => e.position], ['committed'])) as Promise<PerEntry>,
      (code, detail): CommitResult => {
        if (code === Code.Ok) return { kind: 'committed' };
        return { kind: 'refused', holder: typeof detail === 'string' ? detail : undefined };
      },
    );
  }

  /** Makes a lock this consumer holds expire in `inMs` + 2 ms, always with an `expired` event, and takes it out of the lock set (see lua/expireLock-2.lua); false if it was not ours. */
  async expireLock(lock: string, inMs = 0): Promise<boolean> {
    return (await this.call.expireLock(lock, this.ctx.ownLocks, this.ctx.owner, Math.max(0, Math.ceil(inMs)))) === Code.Ok;
  }

  /** The PTTL of each lock (see lua/ttls-n.lua): one script call per `KEYS_PER_CALL` keys, all at once, in order. */
  async ttls(lockKeys: readonly string[]): Promise<number[]> {
    const calls: Promise<number[]>[] = [];
    for (let i = 0; i < lockKeys.length; i += KEYS_PER_CALL) {
      const keys = lockKeys.slice(i, i + KEYS_PER_CALL);
      calls.push(this.call.ttls(keys.length, ...keys) as Promise<number[]>);
    }
    return (await Promise.all(calls)).flat();
  }

  /** Removes this consumer's deadline and lock set unless it still holds locks (see lua/leave-2.lua); false if it holds some. */
  async leave(): Promise<boolean> {
    return (await this.call.leave(this.ctx.deadlines, this.ctx.ownLocks, this.ctx.owner)) === Code.Ok;
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

  /**
   * Runs `call` over `[0, count)` in chunks of `KEYS_PER_CALL`, all at once, and maps each entry's
   * code and detail to its result, in order.
   */
  private async chunked<R>(count: number, call: (from: number, to: number) => Promise<PerEntry>, result: (code: number, detail: unknown, extra: unknown) => R): Promise<R[]> {
    const chunks: Promise<PerEntry>[] = [];
    for (let i = 0; i < count; i += KEYS_PER_CALL) chunks.push(call(i, Math.min(count, i + KEYS_PER_CALL)));
    const results: R[] = new Array(count);
    let at = 0;
    for (const [codes, details, extra] of await Promise.all(chunks)) {
      for (let i = 0; i < codes.length; i++) results[at++] = result(codes[i]!, details[i], Array.isArray(extra) ? extra[i] : undefined);
    }
    return results;
  }
}
