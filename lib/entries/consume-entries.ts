import { EMPTY, Observable, ObservableInput, SchedulerLike, Subscriber, Subscription, Unsubscribable, from } from 'rxjs';
import { CommitListener, Committer } from './committer';
import type { ConsumePolicy, EntryFeed, ReadSink, ResumePoint } from './feed';
import type { EntryContext, EntryHandler, StreamEntry } from './types';

export type { ConsumePolicy, EntryFeed, ReadSink, ResumePoint } from './feed';

type Phase = 'start' | 'read' | 'handle' | 'dead' | 'handled' | 'flush';

/**
 * The work on one stream: read from the committed position, handle each entry in order (the next
 * starts when the handler completes; a batch is read only once the previous one is handled, so a
 * busy handler is not read further), commit (see `Committer`), stop after the `until` entry (at
 * once when the committed entry is the `until` one: a previous owner finished the stream but could
 * not call `doneStream`).
 * On a handler error, a stop request or a read error, the entries handled before are committed
 * first, then the error goes out. Emits each entry's id once handled and committed.
 *
 * One step runs at a time (the committed position, a read, a handler, a dead-letter, a commit
 * that makes room, the last flush), driven by a small loop rather than an operator chain: an idle
 * stream then holds this object, its committer and its subscriber, which keeps the heap per idle
 * stream small with many thousands of streams.
 */
export const consumeEntries = (feed: EntryFeed, handler: EntryHandler, policy: ConsumePolicy, scheduler: SchedulerLike): Observable<string> =>
  new Observable<string>((out) => runEntries(feed, handler, policy, scheduler, out));

/** The work of `consumeEntries` for a subscriber already there (the engine subscribes it without another Observable around it); returns its teardown (the loop itself, not a closure). */
export const runEntries = (feed: EntryFeed, handler: EntryHandler, policy: ConsumePolicy, scheduler: SchedulerLike, out: Subscriber<string>): Unsubscribable => {
  const loop = new EntryLoop(feed, handler, policy, scheduler, out);
  loop.drive();
  return loop;
};

/** Before any read: no entries (shared, not one empty array per stream). */
const NO_ENTRIES: readonly StreamEntry[] = [];

/** The observer of every step of one loop: methods, not closures (one small object per stream). */
class StepObserver {
  constructor(private readonly loop: EntryLoop) {}

  next(value: unknown): void {
    this.loop.stepValue(value);
  }

  error(err: unknown): void {
    this.loop.stepFailed(err);
  }

  complete(): void {
    this.loop.stepDone();
  }
}

class EntryLoop implements EntryContext, ReadSink, CommitListener, Unsubscribable {
  private readonly committer: Committer;
  private phase: Phase = 'start';
  private failure: { readonly err: unknown } | undefined;
  private closed = false;
  private current: Subscription | undefined;
  private after = '0-0';
  private batch: readonly StreamEntry[] = NO_ENTRIES;
  private at = 0;
  private poison: string | undefined;

  constructor(
    private readonly feed: EntryFeed,
    private readonly handler: EntryHandler,
    private readonly policy: ConsumePolicy,
    scheduler: SchedulerLike,
    private readonly out: Subscriber<string>,
  ) {
    this.committer = new Committer(feed, policy.commitEvery, scheduler, this);
  }

  get dataStreamName(): string {
    return this.feed.dataStreamName;
  }

  get idInLbs(): string {
    return this.feed.idInLbs;
  }

  get fence(): number {
    return this.feed.fence();
  }

  deadLetter(reason: string): ObservableInput<never> {
    this.poison = reason;
    return EMPTY;
  }

  committed(id: string): void {
    if (!this.closed) this.out.next(id);
  }

  commitFailed(err: unknown): void {
    if (this.closed) return;
    this.end();
    this.current?.unsubscribe();
    this.feed.cancelRead();
    this.out.error(err);
  }

  private end(): void {
    if (this.closed) return;
    this.closed = true;
    this.committer.close();
    this.feed.ended?.();
  }

  entries(batch: readonly StreamEntry[]): void {
    if (this.closed || this.phase !== 'read') return;
    this.batch = batch;
    this.at = 0;
    if (this.advance()) this.drive();
  }

  failed(err: unknown): void {
    if (this.phase === 'read' && this.fail(err)) this.drive();
  }

  /** The teardown: the work was unsubscribed. */
  unsubscribe(): void {
    this.end();
    this.current?.unsubscribe();
    this.feed.cancelRead();
  }

  /** Runs phase after phase until one has to wait (or the work is over). */
  drive(): void {
    while (!this.closed) {
      if (this.phase === 'read') {
        const stop = this.feed.stopRequested();
        if (stop !== undefined) {
          if (!this.fail(stop)) return;
          continue;
        }
        this.feed.read(this.after, this.policy.readCount, this);
        return;
      }
      let input: ObservableInput<unknown> | undefined;
      try {
        input = this.action();
      } catch (err) {
        if (!this.fail(err)) return;
        continue;
      }
      // nothing to wait for (EMPTY: a synchronous handler's no-op, or ctx.deadLetter()): no subscription
      if (input === undefined || input === EMPTY) {
        if (!this.advance()) return;
        continue;
      }
      this.sync = true;
      this.settled = undefined;
      const sub = from(input).subscribe(this.step);
      this.sync = false;
      if (this.settled === undefined) {
        this.current = sub;
        return;
      }
      const settled = this.settled as { readonly err: unknown } | 'done';
      if (settled === 'done' ? !this.advance() : !this.fail(settled.err)) return;
    }
  }

  /** Whether the step being subscribed is still in `subscribe` (then `drive` goes on), and how it ended there. */
  private sync = false;
  private settled: { readonly err: unknown } | 'done' | undefined;
  /** The observer of every step (one object per stream, not one per step). */
  private readonly step = new StepObserver(this);

  stepValue(value: unknown): void {
    if (this.phase !== 'start') return;
    const { after, last } = value as ResumePoint;
    this.after = after;
    this.finishedBefore = last !== null && this.policy.until(last);
  }

  /** The committed entry is the `until` one: nothing is left to handle. */
  private finishedBefore = false;

  stepFailed(err: unknown): void {
    if (this.sync) this.settled = { err };
    else {
      this.current = undefined;
      if (this.fail(err)) this.drive();
    }
  }

  stepDone(): void {
    if (this.sync) this.settled = 'done';
    else {
      this.current = undefined;
      if (this.advance()) this.drive();
    }
  }

  /** What the current phase (other than a read) waits for; undefined: nothing, go on. */
  private action(): ObservableInput<unknown> | undefined {
    switch (this.phase) {
      case 'start':
        return this.feed.start();
      case 'handle': {
        const stop = this.feed.stopRequested();
        if (stop !== undefined) throw stop;
        this.poison = undefined;
        return this.handler(this.batch[this.at]!, this);
      }
      case 'dead':
        return this.feed.deadLetter(this.batch[this.at]!, this.poison!);
      case 'handled':
        return this.committer.record(this.batch[this.at]!.id);
      default:
        return this.committer.flush();
    }
  }

  /** The current phase completed: the next one (false once the work is over). */
  private advance(): boolean {
    if (this.closed) return false;
    switch (this.phase) {
      case 'start':
        this.phase = this.finishedBefore ? 'flush' : 'read';
        break;
      case 'read':
        if (this.batch.length === 0) this.phase = 'flush';
        else {
          this.after = this.batch[this.batch.length - 1]!.id;
          this.phase = 'handle';
        }
        break;
      case 'handle':
        this.phase = this.poison === undefined ? 'handled' : 'dead';
        break;
      case 'dead':
        this.phase = 'handled';
        break;
      case 'handled': {
        const entry = this.batch[this.at++]!;
        this.phase = this.policy.until(entry) ? 'flush' : this.at < this.batch.length ? 'handle' : 'read';
        if (this.phase !== 'handle') this.batch = NO_ENTRIES;
        break;
      }
      case 'flush':
        this.end();
        if (this.failure === undefined) this.out.complete();
        else this.out.error(this.failure.err);
        return false;
    }
    return true;
  }

  /** The current phase failed: flush what was handled, then error (false once the work is over). */
  private fail(err: unknown): boolean {
    if (this.closed) return false;
    if (this.phase === 'flush') {
      this.end();
      this.out.error(err);
      return false;
    }
    this.failure ??= { err };
    this.phase = 'flush';
    return true;
  }
}
