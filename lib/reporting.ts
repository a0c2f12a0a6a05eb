/** What a client reports to: a logger and a metrics recorder (both optional, both the user's). */

import type { NotificationType } from './types';

/**
 * The subset of a pino logger the client writes to. Every method is called as `(object, message)`.
 * @example
 * const logger: Logger = { debug: () => undefined, info: console.log, warn: console.warn, error: console.error }; // or a pino logger
 * new RedisStreamClient(redis, 'my-service', { consumerId: 'worker-1', logger });
 */
export interface Logger {
  /** Details: connection errors of the client's own connections, each stream done. */
  debug(obj: object, msg?: string): void;
  /** Start, stop, streams claimed and released. */
  info(obj: object, msg?: string): void;
  /** Something the operator should know: a refused CONFIG, a disowned stream, a failed heartbeat. */
  warn(obj: object, msg?: string): void;
  /** An LBS entry dead-lettered (`err` is an `InvalidLbsMessageError`). */
  error(obj: object, msg?: string): void;
}

/**
 * Metrics events, one method per event of the Go library's `metrics.Recorder` (durations in ms),
 * plus `recordDeadLetter` for LBS entries that could not be decoded. Every method is optional.
 * @example
 * const metrics: MetricsRecorder = { recordClaimAttempt: (stream, won, ms) => console.log('claim', stream, won, ms) };
 * new RedisStreamClient(redis, 'my-service', { consumerId: 'worker-1', metrics });
 */
export interface MetricsRecorder {
  /** The start-up recovery of pending entries ended: how many it found, how long it took. */
  recordStartupRecovery?(success: boolean, unackedCount: number, durationMs: number): void;
  /** A `claim` of an expired stream: won or lost, and its duration. */
  recordClaimAttempt?(streamName: string, success: boolean, durationMs: number): void;
  /** A lock taken (or not) for a stream handed out or claimed. */
  recordLockAcquisitionAttempt?(streamName: string, success: boolean, durationMs: number): void;
  /** One lock in a heartbeat: extended, or lost. */
  recordLockExtensionAttempt?(streamName: string, success: boolean): void;
  /** `kind`: `done` for `doneStream` (also in `done()`), `release` for `release` (also in `shutdown()`). */
  recordLockReleaseAttempt?(streamName: string, success: boolean, kind?: 'done' | 'release'): void;
  /** This consumer began to own a stream. */
  recordStreamProcessingStart?(streamName: string, startTime: Date): void;
  /** This consumer stopped owning a stream (done, released or lost); `startTime` is when it began. */
  recordStreamProcessingEnd?(streamName: string, startTime: Date): void;
  /** A keyspace `expired` event of a lock of this service. */
  recordKspNotification?(streamName: string): void;
  /** A keyspace event that could not be used. */
  recordKspNotificationDropped?(): void;
  /** An LBS entry moved to `<service>-dead`, with the reason. */
  recordDeadLetter?(reason: string): void;
  /** A notification the client emitted: `StreamAdded` (handed out from the LBS, or recovered), `StreamExpired`, `StreamDisowned`. */
  recordNotification?(type: NotificationType, streamName: string): void;
  /** One heartbeat tick that extended `locks` locks in `durationMs`; `success` false when Redis failed or did not answer within the TTL. */
  recordHeartbeat?(locks: number, success: boolean, durationMs: number): void;
  /** A claim won of a stream whose expiry this consumer heard: `durationMs` from the `expired` event to the claim won. */
  recordTakeover?(streamName: string, durationMs: number): void;
  /** A stream this consumer handed back for balance (`reason` 'rebalance'). */
  recordStreamReleased?(streamName: string, reason: string): void;
}
