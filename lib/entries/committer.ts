import { Observable, SchedulerLike, Subscriber, Subscription, throwError } from 'rxjs';

/** `commitEvery` with its defaults filled in. */
export interface CommitPolicy {
  readonly entries: number;
  readonly ms: number;
}

/** Where a committer tells what became of the handled ids. */
export interface CommitListener {
  /** An id handled and committed, in order. */
  committed(id: string): void;
  /** A commit failed (once). */
  commitFailed(err: unknown): void;
}

/** Where the position goes (an object, not a closure: one committer per stream). */
export interface CommitTarget {
  /** Commits the position; errors when refused. */
  commit(position: string): Observable<unknown>;
  /**
   * Whether a failed commit may be sent again (a transient Redis error: a Cluster moving the
   * slot, a lost connection), not final (refused: another owner). Absent: every failure is final.
   */
  retryable?(err: unknown): boolean;
}

/** A commit that failed with a retryable error is sent again after min(COMMIT_RETRY_MAX_MS, COMMIT_RETRY_MS · 2^n), at most COMMIT_RETRIES times. */
export const COMMIT_RETRY_MS = 50;
export const COMMIT_RETRY_MAX_MS = 1000;
export const COMMIT_RETRIES = 8;

/**
 * The commit batching of one stream: handled entry ids wait here until they are committed, in
 * one commit of the last id (the position), at most `entries` of them uncommitted at once
 * (`handled` makes the handler of the next entry wait while the tail is full) and none longer than
 * `ms`. Commits run one at a time. Each id goes to `out.committed` once its commit succeeded; a
 * commit that failed with an error the target calls retryable (a Cluster resharding the slot, a
 * lost connection) is sent again with a backoff, up to `COMMIT_RETRIES` times (the tail stays
 * bounded meanwhile: the next entry waits once it is full); a commit that failed for good goes to
 * `out.failed`, and every later `handled` / `flush` errors with it.
 *
 * The committer observes its own commits (it is the observer of each), and whoever waits for
 * them is kept in a list: a stream commits every few reads, so a commit costs no operator chain.
 *
 * ## Example
 * ```ts
 * const committer = new Committer({ commit: (position) => commit$(position) }, { entries: 100, ms: 50 }, asyncScheduler, { committed: emit, commitFailed: stop });
 * concat(handle(entry), committer.handled(entry.id)); // waits only when 100 ids are uncommitted
 * committer.flush(); // commits what is left, before a release
 * ```
 */
export class Committer {
  /** Ids handled and not committed yet (allocated at the first, dropped at each commit). */
  private pending: string[] | undefined;
  /** Ids of the commit in flight. */
  private inflight: string[] | undefined;
  /** Flushes waiting until nothing is pending or in flight. */
  private waiters: Subscriber<never>[] | undefined;
  /** The `ms` timer of the oldest pending id. */
  private timer: Subscription | undefined;
  /** The timer fired while a commit was in flight: commit what is pending once it ends. */
  private due = false;
  private failure: { readonly err: unknown } | undefined;
  /** Retryable failures of the commit in flight so far. */
  private retries = 0;
  private closed = false;

  constructor(
    private readonly target: CommitTarget,
    private readonly policy: CommitPolicy,
    private readonly scheduler: SchedulerLike,
    private readonly out: CommitListener,
  ) {}

  /** Records a handled entry; completes at once, or once a commit made room when the uncommitted tail is full. */
  handled(id: string): Observable<never> {
    return new Observable<never>((subscriber) => {
      const wait = this.record(id);
      if (wait === undefined) return subscriber.complete();
      return wait.subscribe(subscriber);
    });
  }

  /**
   * Records a handled entry now: undefined when there is room for more, else what to wait for
   * (the commit that makes room, or the error of an earlier failed commit). The loop's hot path.
   */
  record(id: string): Observable<never> | undefined {
    if (this.failure !== undefined) return this.failed();
    const pending = (this.pending ??= []);
    pending.push(id);
    if (pending.length + (this.inflight?.length ?? 0) >= this.policy.entries) return this.flush();
    this.timer ??= this.scheduler.schedule(fireTimer, this.policy.ms, this);
    return undefined;
  }

  /** Commits every id handled so far (after the commit in flight); completes when they are committed. */
  flush(): Observable<never> {
    return new Observable<never>((subscriber) => {
      if (this.failure !== undefined) return subscriber.error(this.failure.err);
      if (this.inflight === undefined && (this.pending === undefined || this.pending.length === 0)) return subscriber.complete();
      (this.waiters ??= []).push(subscriber);
      if (this.inflight === undefined) this.commitPending();
      return () => {
        const i = this.waiters?.indexOf(subscriber) ?? -1;
        if (i >= 0) this.waiters!.splice(i, 1);
      };
    });
  }

  /** Stops the timer and tells `out` nothing more. Ids still pending are dropped (call `flush` first to keep them). */
  close(): void {
    this.closed = true;
    this.pending = undefined;
    this.waiters = undefined;
    this.timer?.unsubscribe();
    this.timer = undefined;
  }

  /** @internal The `ms` timer fired. */
  timerFired(): void {
    this.timer = undefined;
    if (this.closed || this.failure !== undefined) return;
    if (this.inflight === undefined) this.commitPending();
    else this.due = true;
  }

  /** @internal The commit in flight: its value (ignored). */
  next(): void {}

  /** @internal The commit in flight succeeded. */
  complete(): void {
    const ids = this.inflight!;
    this.inflight = undefined;
    this.retries = 0;
    if (this.closed) return;
    for (const id of ids) this.out.committed(id);
    const more = this.pending !== undefined && this.pending.length > 0;
    if (more && (this.due || (this.waiters !== undefined && this.waiters.length > 0))) return this.commitPending();
    this.due = false;
    if (more) return;
    const waiters = this.waiters;
    this.waiters = undefined;
    if (waiters !== undefined) for (const w of waiters) w.complete();
  }

  /** @internal The commit in flight failed: sent again after a backoff when retryable, else the committer is done. */
  error(err: unknown): void {
    if (!this.closed && this.retries < COMMIT_RETRIES && this.target.retryable?.(err) === true) {
      const ids = this.inflight!;
      const delay = Math.min(COMMIT_RETRY_MAX_MS, COMMIT_RETRY_MS * 2 ** this.retries++);
      this.scheduler.schedule(retryCommit, delay, { committer: this, ids });
      return;
    }
    this.inflight = undefined;
    this.failure = { err };
    this.timer?.unsubscribe();
    this.timer = undefined;
    if (this.closed) return;
    const waiters = this.waiters;
    this.waiters = undefined;
    this.out.commitFailed(err);
    if (waiters !== undefined) for (const w of waiters) w.error(err);
  }

  /** Commits the last pending id (nothing in flight). */
  private commitPending(): void {
    const ids = this.pending!;
    this.pending = undefined;
    this.due = false;
    this.timer?.unsubscribe();
    this.timer = undefined;
    this.inflight = ids;
    this.target.commit(ids[ids.length - 1]!).subscribe(this);
  }

  /** @internal Sends the commit in flight again (after a retryable failure), unless closed since. */
  retry(ids: string[]): void {
    if (this.closed || this.inflight !== ids) return;
    this.target.commit(ids[ids.length - 1]!).subscribe(this);
  }

  private failed(): Observable<never> {
    const { err } = this.failure!;
    return throwError(() => err);
  }
}

/** The work of a committer's timer (a function of its state, not a closure per timer). */
function fireTimer(this: unknown, committer?: Committer): void {
  committer!.timerFired();
}

/** The work of a commit retry. */
function retryCommit(this: unknown, state?: { readonly committer: Committer; readonly ids: string[] }): void {
  state!.committer.retry(state!.ids);
}
