import { EMPTY, Observable, SchedulerLike, catchError, concat, concatMap, defer, from, ignoreElements, merge, of, repeat, takeWhile, tap, throwError } from 'rxjs';
import { Committer, CommitPolicy } from './committer';
import type { EntryContext, EntryHandler, StreamEntry } from './types';

/** What the work on one stream needs of the engine (marble specs pass `cold()` values). */
export interface EntryFeed {
  readonly dataStreamName: string;
  readonly idInLbs: string;
  /** The committed position ('0-0' when nothing was committed): one value, then complete. */
  readonly start: Observable<string>;
  /**
   * The next entries after `after` (at most `count`), once there are some: one non-empty array,
   * then complete. An empty array means the data stream's key is gone. Errors when the stream must
   * stop (`StreamHandedBackError`) or is not a stream (`DataStreamTypeError`).
   */
  next(after: string, count: number): Observable<readonly StreamEntry[]>;
  /** Commits the position; errors with `NotOwnerError` when refused. */
  commit(position: string): Observable<unknown>;
  /** Copies a poison entry to the dead-letter stream. */
  deadLetter(entry: StreamEntry, reason: string): Observable<unknown>;
  /** The reason to stop before the next entry (set by a release, done or hand-back), if any. */
  stopRequested(): Error | undefined;
  /** The stream's fence now (a heartbeat re-take raises it). */
  fence(): number;
}

/** `ConsumeStreamConfig` with its defaults filled in. */
export interface ConsumePolicy {
  readonly until: (entry: StreamEntry) => boolean;
  readonly commitEvery: CommitPolicy;
  readonly readCount: number;
}

/** The key is gone: the stream's work ends (see `EntryFeed.next`). */
const END = Symbol('end');

/**
 * The work on one stream: read from the committed position, handle each entry in order (the next
 * starts when the handler completes; a batch is read only once the previous one is handled, so a
 * busy handler is not read further), commit (see `Committer`), stop after the `until` entry.
 * On a handler error, a stop request or a read error, the entries handled before are committed
 * first, then the error goes out. Emits each entry's id once handled and committed.
 */
export const consumeEntries = (feed: EntryFeed, handler: EntryHandler, policy: ConsumePolicy, scheduler: SchedulerLike): Observable<string> =>
  defer(() => {
    const committer = new Committer((position) => feed.commit(position), policy.commitEvery, scheduler);
    let failure: { readonly err: unknown } | undefined;

    const handleOne = (entry: StreamEntry): Observable<StreamEntry> =>
      defer(() => {
        const stop = feed.stopRequested();
        if (stop !== undefined) return throwError(() => stop);
        let poison: string | undefined;
        const ctx: EntryContext = {
          dataStreamName: feed.dataStreamName,
          idInLbs: feed.idInLbs,
          get fence() {
            return feed.fence();
          },
          deadLetter: (reason: string) => {
            poison = reason;
            return EMPTY;
          },
        };
        return concat(
          from(handler(entry, ctx)).pipe(ignoreElements()),
          defer(() => (poison === undefined ? EMPTY : feed.deadLetter(entry, poison).pipe(ignoreElements()))),
          committer.handled(entry.id),
          of(entry),
        );
      });

    const handled$ = feed.start.pipe(
      concatMap((start) => {
        let after = start;
        return defer(() => feed.next(after, policy.readCount)).pipe(
          tap((batch) => {
            if (batch.length > 0) after = batch[batch.length - 1]!.id;
          }),
          concatMap((batch) => (batch.length === 0 ? of<typeof END>(END) : from(batch).pipe(concatMap(handleOne)))),
          repeat(),
          takeWhile((e): e is StreamEntry => e !== END),
          takeWhile((e) => !policy.until(e), true),
        );
      }),
    );

    const settled$ = concat(
      handled$.pipe(
        ignoreElements(),
        catchError((err: unknown) => {
          failure = { err };
          return EMPTY;
        }),
      ),
      defer(() => committer.flush()),
      defer(() => {
        committer.close();
        return failure === undefined ? EMPTY : throwError(() => failure!.err);
      }),
    );
    return merge(committer.committed$, settled$).pipe(tap({ unsubscribe: () => committer.close() }));
  });
