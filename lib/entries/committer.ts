import { EMPTY, Observable, SchedulerLike, Subscription, concat, defer, ignoreElements, share, tap, throwError, timer } from 'rxjs';

/** `commitEvery` with its defaults filled in. */
export interface CommitPolicy {
  readonly entries: number;
  readonly ms: number;
}

/**
 * The commit batching of one stream: handled entry ids wait here until they are committed, in
 * one commit of the last id (the position), at most `entries` of them uncommitted at once
 * (`handled` makes the handler of the next entry wait while the tail is full) and none longer than
 * `ms`. Commits run one at a time. Each id goes to `out.committed` once its commit succeeded; a
 * failed commit goes to `out.failed`, and every later `handled` / `flush` errors with it.
 *
 * ## Example
 * ```ts
 * const committer = new Committer({ commit: (position) => commit$(position) }, { entries: 100, ms: 50 }, asyncScheduler, { committed: emit, commitFailed: stop });
 * concat(handle(entry), committer.handled(entry.id)); // waits only when 100 ids are uncommitted
 * committer.flush(); // commits what is left, before a release
 * ```
 */
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
}

export class Committer {
  /** Ids handled and not committed yet (allocated at the first, dropped at each commit). */
  private pending: string[] | undefined;
  private inflight: Observable<never> | undefined;
  private inflightCount = 0;
  private timer: Subscription | undefined;
  private failure: { readonly err: unknown } | undefined;
  private closed = false;

  constructor(
    private readonly target: CommitTarget,
    private readonly policy: CommitPolicy,
    private readonly scheduler: SchedulerLike,
    private readonly out: CommitListener,
  ) {}

  /** Records a handled entry; completes at once, or once a commit made room when the uncommitted tail is full. */
  handled(id: string): Observable<never> {
    return defer(() => this.record(id) ?? EMPTY);
  }

  /**
   * Records a handled entry now: undefined when there is room for more, else what to wait for
   * (the commit that makes room, or the error of an earlier failed commit). The loop's hot path.
   */
  record(id: string): Observable<never> | undefined {
    if (this.failure !== undefined) return throwError(() => this.failure!.err);
    const pending = (this.pending ??= []);
    pending.push(id);
    if (pending.length + this.inflightCount >= this.policy.entries) return this.flush();
    this.timer ??= timer(this.policy.ms, this.scheduler).subscribe(() => {
      this.timer = undefined;
      this.flush().subscribe({ error: () => undefined });
    });
    return undefined;
  }

  /** Commits every id handled so far (after the commit in flight); completes when they are committed. */
  flush(): Observable<never> {
    return defer((): Observable<never> => {
      if (this.failure !== undefined) return throwError(() => this.failure!.err);
      if (this.inflight !== undefined) return concat(this.inflight, defer(() => this.flush()));
      const ids = this.pending;
      if (ids === undefined || ids.length === 0) return EMPTY;
      this.timer?.unsubscribe();
      this.timer = undefined;
      this.pending = undefined;
      this.inflightCount = ids.length;
      const inflight = this.target.commit(ids[ids.length - 1]!).pipe(
        ignoreElements(),
        tap({
          complete: () => {
            this.inflight = undefined;
            this.inflightCount = 0;
            if (!this.closed) for (const id of ids) this.out.committed(id);
          },
          error: (err: unknown) => {
            this.inflight = undefined;
            this.failure = { err };
            if (!this.closed) this.out.commitFailed(err);
          },
        }),
        share(),
      );
      this.inflight = inflight;
      return inflight;
    });
  }

  /** Stops the timer and tells `out` nothing more. Ids still pending are dropped (call `flush` first to keep them). */
  close(): void {
    this.closed = true;
    this.pending = undefined;
    this.timer?.unsubscribe();
    this.timer = undefined;
  }
}
