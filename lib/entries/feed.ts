import type { Observable } from 'rxjs';
import type { CommitPolicy, CommitTarget } from './committer';
import type { StreamEntry } from './types';

/** What the work on one stream (`consumeEntries`) reads from and how it is configured. */

/** Where a read of the feed delivers: once, entries or an error. */
export interface ReadSink {
  /** The next entries (at least one); an empty array means the data stream's key is gone. */
  entries(batch: readonly StreamEntry[]): void;
  /** The read failed: the stream must stop (`StreamHandedBackError`) or is not a stream (`DataStreamTypeError`). */
  failed(err: unknown): void;
}

/** What the work on one stream needs of the engine (marble specs pass `cold()` values). */
export interface EntryFeed extends CommitTarget {
  readonly dataStreamName: string;
  readonly idInLbs: string;
  /**
   * Where to resume: the committed position ('0-0' when nothing was committed) and the committed
   * entry itself (null when nothing was committed or the entry is gone): one value, then complete.
   */
  start(): Observable<ResumePoint>;
  /**
   * Asks for the next entries after `after` (at most `count`): `sink` gets them once there are
   * some. A callback, not an Observable: an idle stream then costs a few fields, not a subscription.
   */
  read(after: string, count: number, sink: ReadSink): void;
  /** Forgets the read in flight, if any (the work was unsubscribed). */
  cancelRead(): void;
  /** Commits the position; errors with `NotOwnerError` when refused. */
  commit(position: string): Observable<unknown>;
  /** Told once when the work ends (before its completion or error goes out, or at unsubscription). */
  ended?(): void;
  /** Copies a poison entry to the dead-letter stream. */
  deadLetter(entry: StreamEntry, reason: string): Observable<unknown>;
  /** The reason to stop before the next entry (set by a release, done or hand-back), if any. */
  stopRequested(): Error | undefined;
  /** The stream's fence now (a heartbeat re-take raises it). */
  fence(): number;
}

/** Where the work on a stream resumes. */
export interface ResumePoint {
  readonly after: string;
  /** The entry at `after`: when `until` accepts it, the stream was finished already (its last owner committed it, then failed before `doneStream`). */
  readonly last: StreamEntry | null;
}

/** `ConsumeStreamConfig` with its defaults filled in. */
export interface ConsumePolicy {
  readonly until: (entry: StreamEntry) => boolean;
  readonly commitEvery: CommitPolicy;
  readonly readCount: number;
}
