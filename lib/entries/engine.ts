import { EMPTY, Observable, SchedulerLike, Subject, Subscription, defer, firstValueFrom, from, map, of, take, tap, throwError, timeout, timer } from 'rxjs';
import { catchError, ignoreElements } from 'rxjs/operators';
import { DataStreamTypeError, InvalidOptionsError, NotOwnerError, StreamHandedBackError, StreamNotFoundError, asRedisError } from '../errors';
import type { Lease, LeaseLedger } from '../lease/ledger';
import type { OwnedStreamInfo } from '../operators/process-streams';
import type { Logger } from '../types';
import { ConsumePolicy, EntryFeed, ResumePoint, runEntries } from './consume-entries';
import { EntryPort, ReadRequest, WrongTypeReply } from './port';
import type { ReadSink } from './consume-entries';
import type { ConsumeStreamConfig, EntryHandler, StreamEntry } from './types';

/** Commit batching by default: measured in bench (see docs/architecture.md, "Processing the entries"). */
export const COMMIT_EVERY_DEFAULTS = { entries: 100, ms: 50 } as const;
/** `until` when none is given: the stream never ends by itself. */
const NO_END = (): boolean => false;
/** Reads that failed in a row wait min(READ_RETRY_MAX_MS, READ_RETRY_MS · 2^n) before the next. */
const READ_RETRY_MS = 50;
const READ_RETRY_MAX_MS = 1000;
/** CLIENT UNBLOCK tries while the blocking read it must end has not reached Redis yet. */
const UNBLOCK_TRIES = 5;

export interface EntryEngineDeps {
  readonly port: EntryPort;
  readonly ledger: LeaseLedger;
  /** This consumer's name (written with dead-lettered entries). */
  readonly consumer: string;
  /** BLOCK of the shared read (hbInterval); also how long the reader stays open with nothing to read. */
  readonly blockMs: number;
  /** Entries read ahead per stream when `consumeStream` is not told otherwise. */
  readonly readCount: number;
  readonly scheduler: SchedulerLike;
  readonly log: Logger;
}

/** One running `consumeStream`: its state in the engine, and the feed its work reads (methods, not closures: thousands of them may wait). */
class Slot implements EntryFeed {
  /** Its read waiting for entries, if any. */
  request: { readonly read: ReadRequest; readonly sink: ReadSink } | undefined;
  stop: StreamHandedBackError | undefined;
  ended = false;
  /** Told when the work ended (created by `settle`). */
  settled: Subject<void> | undefined;

  constructor(
    private readonly engine: EntryEngine,
    private readonly deps: EntryEngineDeps,
    readonly name: string,
    readonly lease: Lease,
  ) {}

  get dataStreamName(): string {
    return this.name;
  }

  get idInLbs(): string {
    return this.lease.payload.idInLbs;
  }

  start(): Observable<ResumePoint> {
    const { port } = this.deps;
    return defer(async (): Promise<ResumePoint> => {
      const position = await port.committed(this.lease.lockKey);
      return position === null ? { after: '0-0', last: null } : { after: position, last: await port.entryAt(this.name, position) };
    }).pipe(catchError((err: unknown) => throwError(() => asRedisError(`Reading the committed position of stream "${this.name}"`)(err))));
  }

  read(after: string, count: number, sink: ReadSink): void {
    if (this.stop !== undefined) return sink.failed(this.stop);
    this.request = { read: { key: this.name, after, count }, sink };
    this.engine.kick();
  }

  cancelRead(): void {
    this.request = undefined;
  }

  commit(position: string): Observable<unknown> {
    const { port, ledger, log } = this.deps;
    const { lease, name } = this;
    return defer(() => {
      if (!ledger.isCurrent(lease)) return throwError(() => new NotOwnerError(name, 'nobody known here (this consumer no longer holds the stream)'));
      return from(port.commit(lease.lockKey, position)).pipe(
        catchError((err: unknown) => throwError(() => asRedisError(`Committing stream "${name}"`)(err))),
        map((result) => {
          if (result.kind === 'committed') return;
          ledger.drop(lease);
          log.warn({ stream: name, holder: result.holder }, 'commit refused: another consumer holds the stream (or its lock is gone); dropped it here');
          throw new NotOwnerError(name, result.holder ?? 'nobody (the lock is gone)');
        }),
      );
    });
  }

  deadLetter(entry: StreamEntry, reason: string): Observable<unknown> {
    const { port, consumer, log } = this.deps;
    const name = this.name;
    return defer(() => {
      const fields = ['data-stream', name, 'entry-id', entry.id, 'reason', reason, 'consumer', consumer];
      for (const [k, v] of Object.entries(entry.fields)) fields.push(k, v);
      return from(port.deadLetter(fields)).pipe(
        tap(() => log.warn({ stream: name, id: entry.id, reason }, 'entry dead-lettered')),
        catchError((err: unknown) => throwError(() => asRedisError(`Dead-lettering entry ${entry.id} of stream "${name}"`)(err))),
      );
    });
  }

  stopRequested(): Error | undefined {
    return this.stop;
  }

  fence(): number {
    return this.deps.ledger.get(this.name)?.fence ?? this.lease.fence;
  }
}

/** Hands a read its entries; the read is over. */
const deliver = (slot: Slot, request: NonNullable<Slot['request']>, entries: readonly StreamEntry[]): void => {
  if (slot.request === request) slot.request = undefined;
  request.sink.entries(entries);
};

const positive = (name: string, value: number | undefined, fallback: number): number => {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw new InvalidOptionsError(`consumeStream: ${name} must be a positive integer (got ${String(value)}).`);
  return v;
};

/**
 * Reads the entries of every stream one client consumes over one shared blocking connection, and
 * commits their positions in batched, fenced script calls (see `consumeEntries` for the work on
 * one stream). One read round is XREAD over every stream that waits for entries (in chunks of
 * keys): a stream whose handler is busy, or whose read-ahead is not handled yet, is not in it.
 * When a stream starts waiting while a blocking read is in flight, CLIENT UNBLOCK ends that
 * read, and the next round includes it. The reader connection is opened at the first read and
 * closed after `blockMs` with no stream to read, or at `close()`.
 */
export class EntryEngine {
  private readonly slots = new Map<string, Slot>();
  private running = false;
  private wake: (() => void) | undefined;
  private blockingRound: number | undefined;
  private round = 0;
  private unblocking = false;
  private idleClose: Subscription | undefined;
  private closed = false;

  constructor(private readonly deps: EntryEngineDeps) {}

  /** `consumeStream(client, stream, handler, config)` (see there). */
  consume(stream: OwnedStreamInfo, handler: EntryHandler, config: ConsumeStreamConfig = {}): Observable<string> {
    return new Observable<string>((out) => {
      const { ledger, scheduler } = this.deps;
      const name = stream.payload.dataStreamName;
      let policy: ConsumePolicy;
      try {
        policy = {
          until: config.until ?? NO_END,
          commitEvery:
            config.commitEvery === undefined
              ? COMMIT_EVERY_DEFAULTS
              : { entries: positive('commitEvery.entries', config.commitEvery.entries, COMMIT_EVERY_DEFAULTS.entries), ms: positive('commitEvery.ms', config.commitEvery.ms, COMMIT_EVERY_DEFAULTS.ms) },
          readCount: positive('readCount', config.readCount, this.deps.readCount),
        };
      } catch (err) {
        out.error(err);
        return undefined;
      }
      const lease = ledger.get(name);
      if (lease === undefined || lease.payload.idInLbs !== stream.payload.idInLbs) return out.error(new StreamNotFoundError(name));
      if (this.slots.has(name)) return out.error(new InvalidOptionsError(`consumeStream: stream "${name}" is already being consumed by this client.`));
      const slot = new Slot(this, this.deps, name, lease);
      this.slots.set(name, slot);
      this.idleClose?.unsubscribe();
      this.idleClose = undefined;
      return runEntries(slot, handler, policy, scheduler, out, () => this.end(slot));
    });
  }

  /**
   * Stops the `consumeStream` of that stream before its next entry, after flushing its commits;
   * completes when it has stopped (at once when none runs; after `blockMs` at most, if its handler
   * is still busy). `release`, `doneStream`, `done` and `shutdown` call it first.
   */
  settle(name: string, reason: 'released' | 'done'): Observable<void> {
    return defer(() => {
      const slot = this.slots.get(name);
      if (slot === undefined || slot.ended) return EMPTY;
      const settled = (slot.settled ??= new Subject<void>());
      this.requestStop(slot, reason);
      if (slot.ended) return EMPTY;
      return settled.pipe(
        take(1),
        timeout({ first: this.deps.blockMs, scheduler: this.deps.scheduler, with: () => of(undefined) }),
        ignoreElements(),
      );
    });
  }

  /**
   * @internal The rebalancer's seam: makes the running `consumeStream` of that stream stop right
   * after its next commit (flushed first); it errors with `StreamHandedBackError` ('rebalanced'),
   * and `processStreams` reports `Rebalanced` and releases the stream. False when no
   * `consumeStream` runs for it.
   */
  handBack(streamName: string): boolean {
    const slot = this.slots.get(streamName);
    if (slot === undefined || slot.ended) return false;
    this.requestStop(slot, 'rebalanced');
    return true;
  }

  /** @internal True while a `consumeStream` runs for that stream. */
  isConsuming(streamName: string): boolean {
    const slot = this.slots.get(streamName);
    return slot !== undefined && !slot.ended;
  }

  /** How many `consumeStream` run now. */
  get consuming(): number {
    return this.slots.size;
  }

  /** Closes the reader connection; later `consumeStream` calls open a new one. */
  close(): void {
    this.idleClose?.unsubscribe();
    this.idleClose = undefined;
    this.closed = true;
    this.wake?.();
    void this.deps.port.unblock().catch(() => false);
    this.deps.port.close();
  }

  private requestStop(slot: Slot, reason: StreamHandedBackError['reason']): void {
    slot.stop ??= new StreamHandedBackError(slot.name, reason);
    const request = slot.request;
    if (request !== undefined) {
      slot.request = undefined;
      request.sink.failed(slot.stop);
    }
  }

  private end(slot: Slot): void {
    if (slot.ended) return;
    slot.ended = true;
    if (this.slots.get(slot.name) === slot) this.slots.delete(slot.name);
    slot.request = undefined;
    slot.settled?.next();
    slot.settled?.complete();
    if (this.slots.size === 0 && this.idleClose === undefined) {
      this.idleClose = timer(this.deps.blockMs, this.deps.scheduler).subscribe(() => {
        this.idleClose = undefined;
        if (this.slots.size === 0) this.close();
      });
    }
  }

  /** A stream waits for entries: start the read loop, or end its blocking read so that the next round includes the stream. */
  /** @internal */
  kick(): void {
    this.closed = false;
    if (!this.running) {
      this.running = true;
      void this.loop();
      return;
    }
    this.wake?.();
    if (this.blockingRound !== undefined && !this.unblocking) {
      this.unblocking = true;
      const round = this.blockingRound;
      void (async () => {
        for (let i = 0; i < UNBLOCK_TRIES && this.blockingRound === round; i++) {
          if (await this.deps.port.unblock().catch(() => false)) break;
          await firstValueFrom(timer(1, this.deps.scheduler));
        }
      })().finally(() => (this.unblocking = false));
    }
  }

  private waiting(): Slot[] {
    const out: Slot[] = [];
    for (const slot of this.slots.values()) if (slot.request !== undefined) out.push(slot);
    return out;
  }

  /** The read loop: one round after another while some stream waits for entries. Never throws. */
  private async loop(): Promise<void> {
    const { port, blockMs, log, scheduler } = this.deps;
    let failures = 0;
    try {
      while (!this.closed) {
        const slots = this.waiting();
        if (slots.length === 0) {
          await new Promise<void>((resolve) => (this.wake = resolve));
          this.wake = undefined;
          continue;
        }
        const sent = slots.map((slot): [Slot, NonNullable<Slot['request']>] => [slot, slot.request!]);
        const round = ++this.round;
        this.blockingRound = round;
        const sentAt = scheduler.now();
        try {
          const reply = await port.read(sent.map(([, r]) => r.read), blockMs);
          failures = 0;
          this.blockingRound = undefined;
          for (const [slot, request] of sent) {
            const entries = reply.get(request.read.key);
            if (entries !== undefined) deliver(slot, request, entries);
          }
          if (reply.size === 0 && scheduler.now() - sentAt >= blockMs) await this.checkGone(sent.map(([, r]) => r.read));
        } catch (err) {
          this.blockingRound = undefined;
          if (this.closed) break;
          if (err instanceof WrongTypeReply) {
            await this.checkGone(sent.map(([, r]) => r.read), true).catch(() => undefined);
            continue;
          }
          failures++;
          const delay = Math.min(READ_RETRY_MAX_MS, READ_RETRY_MS * 2 ** (failures - 1));
          log.warn({ err, streams: sent.length, delayMs: delay }, 'reading the owned data streams failed; retrying');
          await firstValueFrom(timer(delay, scheduler));
        }
      }
    } finally {
      this.running = false;
      this.blockingRound = undefined;
    }
  }

  /**
   * After an empty blocking read (or a WRONGTYPE reply): the streams whose key is gone although
   * they were read before end their work; keys that are not streams fail theirs with
   * `DataStreamTypeError`. A key that never existed is waited for (a producer may create it later).
   */
  private async checkGone(reads: readonly ReadRequest[], all = false): Promise<void> {
    const asked = all ? reads : reads.filter((r) => r.after !== '0-0');
    if (asked.length === 0) return;
    const types = await this.deps.port.types(asked.map((r) => r.key));
    asked.forEach((read, i) => {
      const type = types[i]!;
      const slot = this.slots.get(read.key);
      const request = slot?.request;
      if (request === undefined || request.read !== read || type === 'stream') return;
      if (type === 'none' && read.after === '0-0') return;
      slot!.request = undefined;
      if (type === 'none') deliver(slot!, request, []);
      else request.sink.failed(new DataStreamTypeError(read.key, type));
    });
  }
}
