import type { Observable, Unsubscribable } from 'rxjs';
import type { BadEntry, RawEntry } from './codecs/lbs-message';
import type { MemberRecord } from './rules/balance';

/**
 * What the sources and the lease commands need of Redis, for one service and one consumer. Every
 * method is a cold Observable: nothing is sent until it is subscribed. `lib/redis/` implements it
 * on ioredis; marble specs implement it with `cold()` values.
 */
export interface LbsPort {
  /** This consumer's name (`redis-consumer-<id>`). */
  readonly consumer: string;

  /** CONFIG GET of one parameter ('' when unset); errors when CONFIG is refused. */
  getConfig(name: string): Observable<string>;
  /** CONFIG SET of one parameter; errors when CONFIG is refused. */
  setConfig(name: string, value: string): Observable<void>;
  /** Creates the consumer group (from id 0; an existing one is fine) and the service's epoch, if missing; emits the epoch. */
  createGroup(): Observable<string>;

  /** Takes the locks of new entries and records them in this consumer's lock set: one result per entry, in order. */
  takeLocks(entries: readonly NewEntry[]): Observable<readonly TakeResult[]>;
  /**
   * Claims one entry whose lock is gone (lock absent, no other unfinished entry of data stream
   * `name` in charge, then XCLAIM with `minIdleMs`, then lock), atomically.
   */
  claim(lockKey: string, idInLbs: string, minIdleMs: number, name: string): Observable<ClaimResult>;
  /**
   * Extends (or re-takes) every given lock; one status per lock, and the epoch Redis has now. With
   * `member`, also writes this consumer's member record and reads the registry back. `partial`:
   * the call holds only the locks taken while another is in flight, so the consumer's deadline
   * (its earliest lock's expiry) is not pushed later by it.
   */
  extendLocks(lockKeys: readonly string[], seenEpoch: string, fences?: readonly number[], member?: MemberInput, partial?: boolean): Observable<Extension>;
  /** Releases the lock, XACK and XDEL of one entry, atomically (see lua/finish-n.lua). */
  finish(lockKey: string, idInLbs: string, dataStreamName: string): Observable<FinishResult>;
  /** Makes a lock this consumer holds expire in `inMs` (default: at once) and takes it out of this consumer's lock set; emits false if it was not ours. */
  expireLock(lockKey: string, inMs?: number): Observable<boolean>;
  /** Reads a lock's remaining TTL (PTTL; -2 when gone). Reading a lock past its TTL makes Redis delete it and publish `expired`. */
  touchLock(lockKey: string): Observable<number>;

  /** Copies each bad entry with its reason to the dead-letter stream, then XACK + XDEL it. */
  deadLetter(bad: readonly BadEntry[]): Observable<void>;
  /** The LBS entry with this id, or null when it was deleted. */
  entry(idInLbs: string): Observable<RawEntry | null>;
  /** The LBS entries with these ids, in one round trip; null where an entry was deleted. */
  entries(ids: readonly string[]): Observable<readonly (RawEntry | null)[]>;
  /** One page of the group's pending list: entries idle at least `minIdleMs`, from `start` (`(id` goes past id). */
  pending(minIdleMs: number, start: string, count: number): Observable<readonly PendingEntry[]>;
  /** XACK of pending entries whose LBS entry no longer exists. */
  ackDangling(ids: readonly string[]): Observable<void>;

  /** Consumers past their deadline, if this consumer wins the interval's reaper guard (else []). */
  overdueConsumers(intervalMs: number, limit: number): Observable<readonly string[]>;
  /** Touches every lock of an overdue consumer, so that those past their TTL expire now; emits how many were gone. */
  touchLocksOf(consumer: string): Observable<number>;
  /** After done()/shutdown(): removes this consumer's deadline and lock set unless it still holds locks; emits whether it left. */
  leave(): Observable<boolean>;
  /** True if this consumer runs the reconciler this interval (a guard key). */
  winReconcilerTurn(intervalMs: number): Observable<boolean>;

  /** The connections one subscription of the notifications needs (blocking reader, subscriber); lazy until used. */
  openSession(onError: (role: string, err: unknown) => void): LbsSession;
}

/** The connections of one session; `unsubscribe()` closes them. */
export interface LbsSession extends Unsubscribable {
  /** Opens the blocking reader's connection. */
  openReader(blockMs: number): Observable<void>;
  /** XREADGROUP of up to `count` new entries, blocking up to `blockMs`; [] when the block times out. Errors with `GroupMissingError` on NOGROUP. */
  readNew(count: number, blockMs: number): Observable<readonly RawEntry[]>;
  /** Lock keys whose `expired` keyspace event arrived (at most once, like all Pub/Sub). Errors if the subscription is refused. */
  readonly expiredLockKeys$: Observable<string>;
}

/** A new LBS entry whose lock the hand-out takes. */
export interface NewEntry {
  readonly lockKey: string;
  readonly name: string;
  readonly id: string;
}

/** One entry of the group's pending list (XPENDING, extended form). */
export interface PendingEntry {
  readonly id: string;
  readonly consumer: string;
  readonly idleMs: number;
}

/** What the heartbeat found of one lock. */
export enum LockStatus {
  /** Held by another consumer, or vanished while its entry went to another consumer or was finished. */
  Lost = 0,
  /** The lock was ours and was extended. */
  Extended = 1,
  /** The lock had vanished and was set again (its entry is still ours, or Redis lost its data). */
  Retaken = 2,
}

export interface Extension {
  /**
   * One per lock; undefined when Redis did not answer for it (on a Cluster, the node of its
   * partition failed while the others answered): neither extended nor lost, the heartbeat judges
   * it by its last confirmation.
   */
  readonly statuses: readonly (LockStatus | undefined)[];
  /** The new fence of each re-taken lock (undefined for the others, or when not reported). */
  readonly fences?: readonly (number | undefined)[];
  /** The epoch Redis has now (undefined: none, Redis lost its data). */
  readonly epoch: string | undefined;
  /** The membership registry, when a member record was written. */
  readonly members?: readonly MemberRecord[];
  /** The Redis clock (ms) when the registry was read. */
  readonly now?: number;
}

/** This consumer's member record, written by its heartbeat. */
export interface MemberInput {
  /** `maxStreams` (Infinity: unlimited). */
  readonly capacity: number;
  readonly owned: number;
  /** A random id per session: a restart is a new member. */
  readonly incarnation: string;
  /** The membership TTL, ms. */
  readonly ttlMs: number;
}

export type TakeResult =
  /** Taken; `fence` is the stream's new fencing token. */
  | { readonly kind: 'taken'; readonly fence: number }
  /** Held by another consumer. */
  | { readonly kind: 'held' }
  /** No longer pending for this consumer (a read reply that came late, after another consumer took the entry over). */
  | { readonly kind: 'not-pending' }
  /** Another unfinished LBS entry (`of`) handles the same data stream. */
  | { readonly kind: 'duplicate'; readonly of: string };

export type ClaimResult =
  /**
   * Claimed; `fields` is the entry's flat field/value list; `fence` the stream's fence after the
   * claim (it grows with every claim, `takenBack` too). `takenBack`: the lock was already this
   * consumer's: the entry came back from another consumer's pending list (a Go consumer moved
   * it), or this consumer had dropped the stream meanwhile (then a new take, announced again).
   */
  | { readonly kind: 'claimed'; readonly fields: readonly string[]; readonly fence: number; readonly takenBack?: boolean }
  | { readonly kind: 'held'; readonly holder: string }
  /** XCLAIM took nothing: not pending, deleted, or delivered too recently. */
  | { readonly kind: 'not-pending' }
  /** Nothing taken: another, unfinished LBS entry (`of`) is in charge of the data stream. */
  | { readonly kind: 'duplicate'; readonly of: string };

export type FinishResult =
  | { readonly kind: 'finished' }
  | { readonly kind: 'held'; readonly holder: string }
  /** The entry went to another consumer (`holder`), or was finished (undefined): nothing acknowledged. */
  | { readonly kind: 'not-pending'; readonly holder: string | undefined };

export type CommitResult =
  | { readonly kind: 'committed' }
  /** The lock is held by another consumer (`holder`), or gone (undefined): nothing written. */
  | { readonly kind: 'refused'; readonly holder: string | undefined };
