import { EMPTY, Observable, SchedulerLike, Subject, Subscription, concat, defer, ignoreElements, share, tap, throwError, timer } from 'rxjs';

/** `commitEvery` with its defaults filled in. */
export interface CommitPolicy {
  readonly entries: number;
  readonly ms: number;
}

/**
 * The commit batching of one stream: handled entry ids wait here until they are committed, in
 * one commit of the last id (the position), at most `entries` of them uncommitted at once
 * (`handled` makes the handler of the next entry wait while the tail is full) and none longer than
 * `ms`. Commits run one at a time. Each id goes out on `committed$` once its commit succeeded; a
 * failed commit errors `committed$` and every later `handled` / `flush`.
 *
 * ## Example
 * ```ts
 * const committer = new Committer((position) => commit$(position), { entries: 100, ms: 50 }, asyncScheduler);
 * concat(handle(entry), committer.handled(entry.id)); // waits only when 100 ids are uncommitted
 * committer.flush(); // commits what is left, before a release
 * ```
 */
export class Committer {
  private readonly committedIds = new Subject<string>();
  /** Ids handled and committed, in order. */
  readonly committed$: Observable<string> = this.committedIds.asObservable();
  private pending: string[] = [];
  private inflight: Observable<never> | undefined;
  private inflightCount = 0;
  private timer: Subscription | undefined;
  private failure: { readonly err: unknown } | undefined;

  constructor(
    private readonly commit: (position: string) => Observable<unknown>,
    private readonly policy: CommitPolicy,
    private readonly scheduler: SchedulerLike,
  ) {}

  /** Records a handled entry; completes at once, or once a commit made room when the uncommitted tail is full. */
  handled(id: string): Observable<never> {
    return defer(() => {
      if (this.failure !== undefined) return throwError(() => this.failure!.err);
      this.pending.push(id);
      if (this.pending.length + this.inflightCount >= this.policy.entries) return this.flush();
      this.timer ??= timer(this.policy.ms, this.scheduler).subscribe(() => {
        this.timer = undefined;
        this.flush().subscribe({ error: () => undefined });
      });
      return EMPTY;
    });
  }

  /** Commits every id handled so far (after the commit in flight); completes when they are committed. */
  flush(): Observable<never> {
    return defer((): Observable<never> => {
      if (this.failure !== undefined) return throwError(() => this.failure!.err);
      if (this.inflight !== undefined) return concat(this.inflight, defer(() => this.flush()));
      if (this.pending.length === 0) return EMPTY;
      this.timer?.unsubscribe();
      this.timer = undefined;
      const ids = this.pending;
      this.pending = [];
      this.inflightCount = ids.length;
      const inflight = this.commit(ids[ids.length - 1]!).pipe(
        ignoreElements(),
        tap({
          complete: () => {
            this.inflight = undefined;
            this.inflightCount = 0;
            for (const id of ids) this.committedIds.next(id);
          },
          error: (err: unknown) => {
            this.inflight = undefined;
            this.failure = { err };
            this.committedIds.error(err);
          },
        }),
        share(),
      );
      this.inflight = inflight;
      return inflight;
    });
  }

  /** Stops the timer; `committed$` completes. Ids still pending are dropped (call `flush` first to keep them). */
  close(): void {
    this.pending = [];
    this.timer?.unsubscribe();
    this.timer = undefined;
    if (this.failure === undefined) this.committedIds.complete();
  }
}
