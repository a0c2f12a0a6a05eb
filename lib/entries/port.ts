import type { CommitResult } from '../port';
import type { StreamEntry } from './types';

/** One stream's part of a read: entries after `after`, at most `count`. */
export interface ReadRequest {
  readonly key: string;
  readonly after: string;
  readonly count: number;
}

/** What one read returned: the new entries of each key that has some (keys with none are absent). */
export type ReadReply = ReadonlyMap<string, readonly StreamEntry[]>;

/**
 * What the entry engine needs of Redis. `lib/redis/entry-store.ts` implements it on ioredis: the
 * reads go to one blocking connection of their own (opened by `open()` or the first read), the rest to the
 * client's connection.
 */
export interface EntryPort {
  /**
   * XREAD of every request (`COUNT`, in chunks of keys); with `blockMs`, waits up to that long
   * when no key has entries (an `unblock()` ends the wait early, with an empty reply). Rejects
   * with a `WRONGTYPE` reply when a key is not a stream.
   */
  read(requests: readonly ReadRequest[], blockMs: number | undefined): Promise<ReadReply>;
  /** Opens the reader connection now (a read opens it otherwise); resolves once reads can go out. */
  open(): Promise<void>;
  /** Ends the blocking read in flight (CLIENT UNBLOCK of the reader); false if no read was blocked. */
  unblock(): Promise<boolean>;
  /** The committed position of the stream whose lock key this is, or null (nothing committed). */
  committed(lockKey: string): Promise<string | null>;
  /** The entry `id` of stream `key` (XRANGE key id id), or null when it is gone. */
  entryAt(key: string, id: string): Promise<StreamEntry | null>;
  /** Writes the committed position while this consumer holds the lock (batched with the other commits of the same turn). */
  commit(lockKey: string, position: string): Promise<CommitResult>;
  /** The type of each key (`stream`, `none`, `string`...), in order. */
  types(keys: readonly string[]): Promise<string[]>;
  /** Appends one poison entry to the service's dead-letter stream. */
  deadLetter(fields: readonly string[]): Promise<void>;
  /** Closes the reader connection (a later read opens a new one). */
  close(): void;
}

/** A read found a key that is not a stream (the WRONGTYPE reply); the engine then asks each key's type. */
export class WrongTypeReply extends Error {}
