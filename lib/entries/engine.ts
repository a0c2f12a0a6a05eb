import { EMPTY, Observable, Subject, Subscription, defer, of, take, timeout, timer } from 'rxjs';
import { ignoreElements } from 'rxjs/operators';
import { InvalidOptionsError, StreamHandedBackError, StreamNotFoundError } from '../errors';
import type { OwnedStreamInfo } from '../operators/process-streams';
import { ConsumePolicy, runEntries } from './consume-entries';
import { ReadLoop } from './read-loop';
import { EntryEngineDeps, Slot, SlotHost } from './slot';
import type { ConsumeStreamConfig, EntryHandler } from './types';

export type { EntryEngineDeps } from './slot';

/** Commit batching by default: measured in bench (see docs/architecture.md, "Processing the entries"). */
export const COMMIT_EVERY_DEFAULTS = { entries: 100, ms: 50 } as const;
/** Entries read ahead per stream by default (not the client's `readCount`, which is for LBS entries: a large one would make each read hand the handlers big batches that run with the event loop blocked). */
export const READ_COUNT_DEFAULT = 10;
/** `until` when none is given: the stream never ends by itself. */
const NO_END = (): boolean => false;

const positive = (name: string, value: number | undefined, fallback: number): number => {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw new InvalidOptionsError(`consumeStream: ${name} must be a positive integer (got ${String(value)}).`);
  return v;
};

/**
 * Reads the entries of every stream one client consumes over one shared blocking connection
 * (`ReadLoop`), and commits their positions in batched, fenced script calls (see `consumeEntries`
 * for the work on one stream). A stream whose handler is busy, or whose read-ahead is not handled
 * yet, is not in a read round. The reader connection is opened at the first `consumeStream` and
 * closed after `blockMs` with no stream to read, or at `close()`.
 */
export class EntryEngine implements SlotHost {
  private readonly slots = new Map<string, Slot>();
  private readonly reader: ReadLoop;
  private idleClose: Subscription | undefined;
  /** The policy of a `consumeStream` without config (one object for all of them). */
  private readonly defaults: ConsumePolicy;

  /** @internal What the slots read (port, ledger, scheduler...). */
  readonly deps: EntryEngineDeps;

  constructor(deps: EntryEngineDeps) {
    this.deps = deps;
    this.reader = new ReadLoop(deps, this.slots);
    this.defaults = { until: NO_END, commitEvery: COMMIT_EVERY_DEFAULTS, readCount: READ_COUNT_DEFAULT };
  }

  /** `consumeStream(client, stream, handler, config)` (see there). */
  consume(stream: OwnedStreamInfo, handler: EntryHandler, config: ConsumeStreamConfig = {}): Observable<string> {
    return new Observable<string>((out) => {
      const name = stream.payload.dataStreamName;
      let policy: ConsumePolicy;
      try {
        policy = this.policyOf(config);
      } catch (err) {
        out.error(err);
        return undefined;
      }
      const lease = this.deps.ledger.get(name);
      if (lease === undefined || lease.payload.idInLbs !== stream.payload.idInLbs) return out.error(new StreamNotFoundError(name));
      if (this.slots.has(name)) return out.error(new InvalidOptionsError(`consumeStream: stream "${name}" is already being consumed by this client.`));
      const slot = new Slot(this, name, lease);
      if (this.slots.size === 0) this.reader.open();
      this.slots.set(name, slot);
      this.idleClose?.unsubscribe();
      this.idleClose = undefined;
      return runEntries(slot, handler, policy, this.deps.scheduler, out);
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
      if (slot === undefined || slot.done) return EMPTY;
      const settled = (slot.settled ??= new Subject<void>());
      slot.requestStop(reason);
      if (slot.done) return EMPTY;
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
    if (slot === undefined || slot.done) return false;
    slot.requestStop('rebalanced' satisfies StreamHandedBackError['reason']);
    return true;
  }

  /** @internal True while a `consumeStream` runs for that stream. */
  isConsuming(streamName: string): boolean {
    const slot = this.slots.get(streamName);
    return slot !== undefined && !slot.done;
  }

  /** How many `consumeStream` run now. */
  get consuming(): number {
    return this.slots.size;
  }

  /** Closes the reader connection; later `consumeStream` calls open a new one. */
  close(): void {
    this.idleClose?.unsubscribe();
    this.idleClose = undefined;
    this.reader.close();
  }

  /** @internal A slot waits for entries. */
  kick(): void {
    this.reader.kick();
  }

  /** @internal A slot's work ended: forget it; with none left, close the reader after `blockMs`. */
  ended(slot: Slot): void {
    if (this.slots.get(slot.name) === slot) this.slots.delete(slot.name);
    if (this.slots.size === 0 && this.idleClose === undefined) {
      this.idleClose = timer(this.deps.blockMs, this.deps.scheduler).subscribe(() => {
        this.idleClose = undefined;
        if (this.slots.size === 0) this.close();
      });
    }
  }

  private policyOf(config: ConsumeStreamConfig): ConsumePolicy {
    if (config.until === undefined && config.commitEvery === undefined && config.readCount === undefined) return this.defaults;
    return {
      until: config.until ?? NO_END,
      commitEvery:
        config.commitEvery === undefined
          ? COMMIT_EVERY_DEFAULTS
          : { entries: positive('commitEvery.entries', config.commitEvery.entries, COMMIT_EVERY_DEFAULTS.entries), ms: positive('commitEvery.ms', config.commitEvery.ms, COMMIT_EVERY_DEFAULTS.ms) },
      readCount: positive('readCount', config.readCount, READ_COUNT_DEFAULT),
    };
  }
}
