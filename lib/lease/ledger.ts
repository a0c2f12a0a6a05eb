import { Observable, Subject, defer, filter, map, of, take } from 'rxjs';
import type { AdditionalInfo, LbsInfo, OwnedLbsInfo } from '../types';

/** A stream this consumer owns: its LBS entry, its `Info`, its lock key and when it was taken. */
export interface Lease {
  readonly payload: LbsInfo;
  readonly additionalInfo: AdditionalInfo;
  readonly lockKey: string;
  readonly since: Date;
  /** When Redis last confirmed the lock (ms, the scheduler's clock, taken when the confirming call was sent). Only the ledger changes it. */
  readonly confirmedAt: number;
  /** The stream's fencing token from the script that took its lock (a heartbeat re-take raises it). Only the ledger changes it. */
  readonly fence: number;
  /** Taken from another owner (a claim, or a sweep of an entry whose owner lost it), not fresh from the LBS: such a stream just moved, and is not handed back for balance at once. */
  readonly movedIn: boolean;
}

/** The payload of `StreamAdded` / `StreamClaimed` for a lease: its LBS info and its fence. */
export const ownedInfo = (lease: Lease): OwnedLbsInfo => ({ dataStreamName: lease.payload.dataStreamName, idInLbs: lease.payload.idInLbs, fence: lease.fence });

type MutableLease = { -readonly [K in keyof Lease]: Lease[K] };

/** A lock this consumer handed back with `release`: its expiry and its entry are for the others. */
interface HandBack {
  readonly id: string;
  readonly at: number;
}

/** Told when a lease begins and ends (the metrics' stream-processing start and end). */
export interface LeaseListener {
  taken?(lease: Lease): void;
  dropped?(lease: Lease): void;
}

/**
 * The one record of what this consumer holds: the streams it owns (by data-stream name, as
 * `doneStream(name)` addresses them), the locks it handed back recently, and the epoch of Redis
 * it last saw. Every change of ownership state goes through one of its methods.
 *
 * ## Example
 * ```ts
 * const ledger = new LeaseLedger(lockKey, () => scheduler.now(), 10 * hbInterval);
 * const lease = ledger.take({ dataStreamName: 's1', idInLbs: '1-0' }, {});
 * ledger.holds('s1', '1-0'); // true
 * ledger.drop(lease);
 * ```
 */
export class LeaseLedger {
  private readonly byName = new Map<string, MutableLease>();
  private readonly ids = new Set<string>();
  private readonly handedBack = new Map<string, HandBack>();
  /** The epoch this consumer saw at start-up or at its last successful heartbeat ('' before). */
  epoch = '';
  /** Places promised to streams being read or claimed (see `reserve`). */
  private reserved = 0;
  /** Emits when a place may have come free (a drop, an unreserve). */
  private readonly freed = new Subject<void>();
  /** Set by `close()`: no stream is taken any more. */
  private closed = false;

  /**
   * @param lockKeyOf the lock key of an LBS entry
   * @param now the clock (ms) every time here is read from
   * @param handBackMs how long a handed-back entry is left to the others by this consumer's sweeps
   * @param capacity most streams held at once (`maxStreams`; Infinity: unlimited)
   */
  constructor(
    private readonly lockKeyOf: (dataStreamName: string, idInLbs: string) => string,
    private readonly now: () => number,
    private readonly handBackMs: number,
    private readonly listener: LeaseListener = {},
    readonly capacity = Infinity,
  ) {}

  /** Places left: the capacity minus the streams held and the places reserved (Infinity when unlimited). */
  room(): number {
    return this.closed ? 0 : Math.max(0, this.capacity - this.byName.size - this.reserved);
  }

  /**
   * Takes no stream any more (`done()` and `shutdown()` are finishing what is held): `room()` is 0
   * from now on, so reads, sweeps and claims reserve nothing. Takes already reserved still end.
   */
  close(): void {
    this.closed = true;
  }

  /** Emits once (then completes) when no place is reserved: at once if none is, else once the takes in flight ended. */
  whenSettled(): Observable<void> {
    return defer(() => (this.reserved === 0 ? of(undefined) : this.freed.pipe(filter(() => this.reserved === 0), take(1), map(() => undefined))));
  }

  /**
   * Reserves up to `n` places for streams about to be taken (a read of the LBS, a claim, a sweep's
   * claims), so that takes running at once never exceed the capacity; resolves how many it got.
   * Give them back with `unreserve` once the takes are done (taken streams then hold their place).
   */
  reserve(n: number): number {
    const granted = Math.max(0, Math.min(n, this.room()));
    this.reserved += granted;
    return granted;
  }

  /** Places reserved now: streams being read, claimed or swept into this consumer. */
  get reservedCount(): number {
    return this.reserved;
  }

  unreserve(n: number): void {
    this.reserved = Math.max(0, this.reserved - n);
    if (n > 0) this.freed.next();
  }

  /** Emits once (then completes) when there is room: at once if there is. */
  whenRoom(): Observable<void> {
    return defer(() => (this.room() > 0 ? of(undefined) : this.freed.pipe(filter(() => this.room() > 0), take(1), map(() => undefined))));
  }

  /** Records that this consumer now holds the stream (its lock is already taken); `movedIn`: taken from another owner (see `Lease.movedIn`). */
  take(payload: LbsInfo, additionalInfo: AdditionalInfo, fence = 0, movedIn = false): Lease {
    const at = this.now();
    const lease: MutableLease = {
      payload: { dataStreamName: payload.dataStreamName, idInLbs: payload.idInLbs },
      additionalInfo,
      lockKey: this.lockKeyOf(payload.dataStreamName, payload.idInLbs),
      since: new Date(at),
      confirmedAt: at,
      fence,
      movedIn,
    };
    const previous = this.byName.get(payload.dataStreamName);
    if (previous !== undefined) {
      this.ids.delete(previous.payload.idInLbs);
      this.listener.dropped?.(previous);
    }
    this.byName.set(payload.dataStreamName, lease);
    this.ids.add(payload.idInLbs);
    this.listener.taken?.(lease);
    return lease;
  }

  get(name: string): Lease | undefined {
    return this.byName.get(name);
  }

  /** True when this consumer holds exactly this LBS entry of the stream. */
  holds(name: string, idInLbs: string): boolean {
    return this.byName.get(name)?.payload.idInLbs === idInLbs;
  }

  /** True while `lease` is this consumer's current lease of its stream. */
  isCurrent(lease: Lease): boolean {
    return this.byName.get(lease.payload.dataStreamName) === lease;
  }

  /** Forgets the stream, but only the given lease of it (a newer entry of the same name stays). */
  drop(lease: Lease): boolean {
    if (!this.isCurrent(lease)) return false;
    this.ids.delete(lease.payload.idInLbs);
    this.byName.delete(lease.payload.dataStreamName);
    this.listener.dropped?.(lease);
    this.freed.next();
    return true;
  }

  /** Redis confirmed these leases' locks with a call sent at `sentAt`. */
  confirm(leases: readonly Lease[], sentAt: number): void {
    for (const lease of leases) {
      const current = this.byName.get(lease.payload.dataStreamName);
      if (current === lease) current.confirmedAt = sentAt;
    }
  }

  /** A heartbeat re-took the lease's lock: its fence is now `fence`. */
  refence(lease: Lease, fence: number): void {
    const current = this.byName.get(lease.payload.dataStreamName);
    if (current === lease && fence > current.fence) current.fence = fence;
  }

  all(): Lease[] {
    return [...this.byName.values()];
  }

  get size(): number {
    return this.byName.size;
  }

  /** Drops the lease and remembers its lock as handed back (see `release`). */
  handBack(lease: Lease): void {
    this.drop(lease);
    this.handedBack.set(lease.lockKey, { id: lease.payload.idInLbs, at: this.now() });
  }

  /** The hand-back of this lock did not happen (the lock was not ours, or Redis failed). */
  forgetHandBack(lockKey: string): void {
    this.handedBack.delete(lockKey);
  }

  isHandedBack(lockKey: string): boolean {
    return this.handedBack.has(lockKey);
  }

  /**
   * True for an entry of the pending list that this consumer's sweeps leave alone: one it holds,
   * or one it handed back less than `handBackMs` ago (older hand-backs are forgotten here).
   */
  keeps(consumer: string, me: string, idInLbs: string): boolean {
    if (consumer !== me) return false;
    if (this.ids.has(idInLbs)) return true;
    const horizon = this.now() - this.handBackMs;
    for (const [key, { id, at }] of this.handedBack) {
      if (at < horizon) this.handedBack.delete(key);
      else if (id === idInLbs) return true;
    }
    return false;
  }
}
