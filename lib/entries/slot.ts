import { Observable, SchedulerLike, Subject, defer, from, tap, throwError } from 'rxjs';
import { catchError } from 'rxjs/operators';
import { NotOwnerError, StreamHandedBackError, asRedisError } from '../errors';
import type { Lease, LeaseLedger } from '../lease/ledger';
import type { Logger } from '../types';
import type { EntryFeed, ReadSink, ResumePoint } from './feed';
import type { EntryPort, ReadRequest } from './port';
import type { StreamEntry } from './types';

export interface EntryEngineDeps {
  readonly port: EntryPort;
  readonly ledger: LeaseLedger;
  /** This consumer's name (written with dead-lettered entries). */
  readonly consumer: string;
  /** BLOCK of the shared read (hbInterval); also how long the reader stays open with nothing to read. */
  readonly blockMs: number;
  readonly scheduler: SchedulerLike;
  readonly log: Logger;
}

/** What a slot needs of its engine. */
export interface SlotHost {
  readonly deps: EntryEngineDeps;
  /** A slot waits for entries: the reader must include it. */
  kick(): void;
  /** A slot's work ended (told once). */
  ended(slot: Slot): void;
}

/**
 * One running `consumeStream`: its state in the engine, and the feed its work reads (methods, not
 * closures: thousands of them may wait). Its read, while it waits for entries, is three fields
 * (`sink`, `after`, `count`), not an object, and the slot itself is the `ReadRequest` of a read
 * round (`after` and `count` do not change while a round is in flight: only the round delivers).
 */
export class Slot implements EntryFeed, ReadRequest {
  /** Where the read waiting for entries delivers; undefined while the slot does not wait. */
  sink: ReadSink | undefined;
  /** The read's last id seen and COUNT (meaningful while `sink` is set). */
  after = '0-0';
  count = 0;
  stop: StreamHandedBackError | undefined;
  done = false;
  /** Told when the work ended (created by `settle`). */
  settled: Subject<void> | undefined;

  constructor(
    private readonly host: SlotHost,
    readonly name: string,
    readonly lease: Lease,
  ) {}

  get dataStreamName(): string {
    return this.name;
  }

  get key(): string {
    return this.name;
  }

  get idInLbs(): string {
    return this.lease.payload.idInLbs;
  }

  start(): Observable<ResumePoint> {
    const { port } = this.host.deps;
    return defer(async (): Promise<ResumePoint> => {
      const position = await port.committed(this.lease.lockKey);
      return position === null ? { after: '0-0', last: null } : { after: position, last: await port.entryAt(this.name, position) };
    }).pipe(catchError((err: unknown) => throwError(() => asRedisError(`Reading the committed position of stream "${this.name}"`)(err))));
  }

  read(after: string, count: number, sink: ReadSink): void {
    if (this.stop !== undefined) return sink.failed(this.stop);
    this.after = after;
    this.count = count;
    this.sink = sink;
    this.host.kick();
  }

  cancelRead(): void {
    this.sink = undefined;
  }

  /** Hands the waiting read its entries (an empty array: the key is gone); the read is over. */
  deliver(entries: readonly StreamEntry[]): void {
    const sink = this.sink;
    this.sink = undefined;
    sink?.entries(entries);
  }

  /** Fails the waiting read, if any. */
  fail(err: unknown): void {
    const sink = this.sink;
    this.sink = undefined;
    sink?.failed(err);
  }

  /** Asks the work to stop before its next entry (its waiting read fails at once). */
  requestStop(reason: StreamHandedBackError['reason']): void {
    this.stop ??= new StreamHandedBackError(this.name, reason);
    this.fail(this.stop);
  }

  /** Completes once committed (one Observable per commit, no operator chain: a stream commits every few reads). */
  commit(position: string): Observable<never> {
    return new Observable<never>((subscriber) => {
      const { port, ledger, log } = this.host.deps;
      const { lease, name } = this;
      if (!ledger.isCurrent(lease)) return subscriber.error(new NotOwnerError(name, 'nobody known here (this consumer no longer holds the stream)'));
      port.commit(lease.lockKey, position).then(
        (result) => {
          if (result.kind === 'committed') return subscriber.complete();
          ledger.drop(lease);
          log.warn({ stream: name, holder: result.holder }, 'commit refused: another consumer holds the stream (or its lock is gone); dropped it here');
          subscriber.error(new NotOwnerError(name, result.holder ?? 'nobody (the lock is gone)'));
        },
        (err: unknown) => subscriber.error(asRedisError(`Committing stream "${name}"`)(err)),
      );
      return undefined;
    });
  }

  /** A commit that Redis did not answer (a Cluster resharding the slot, a lost connection) may be sent again; a refused one (another owner) may not. */
  retryable(err: unknown): boolean {
    return !(err instanceof NotOwnerError) && this.host.deps.ledger.isCurrent(this.lease);
  }

  deadLetter(entry: StreamEntry, reason: string): Observable<unknown> {
    const { port, consumer, log } = this.host.deps;
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
    return this.host.deps.ledger.get(this.name)?.fence ?? this.lease.fence;
  }

  ended(): void {
    if (this.done) return;
    this.done = true;
    this.sink = undefined;
    this.host.ended(this);
    this.settled?.next();
    this.settled?.complete();
  }
}
