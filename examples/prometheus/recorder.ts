/**
 * A `MetricsRecorder` backed by prom-client: pass it as the client's `metrics` option and expose
 * its registry on /metrics (see main.ts). Copy it into your service and adjust names or buckets.
 *
 * No metric is labelled with the stream name: stream names are unbounded (one per session, order,
 * ...), and a label per stream would create a time series per stream. Labels only take values
 * from small fixed sets (`result`, `reason`).
 *
 * ## Example
 * ```ts
 * const recorder = new PrometheusRecorder({ registry: new Registry() });
 * const client = new RedisStreamClient(redis, 'my-service', { consumerId: 'worker-1', metrics: recorder });
 * // GET /metrics -> await recorder.registry.metrics()
 * ```
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MetricsRecorder } from '../../lib';

export interface PrometheusRecorderOptions {
  /** Where the metrics are registered. Default: a new `Registry` of its own. */
  readonly registry?: Registry;
  /** Prefix of every metric name. Default `redis_stream_client_`. */
  readonly prefix?: string;
}

type Result = 'success' | 'failure';
const result = (success: boolean): Result => (success ? 'success' : 'failure');
const RESULTS: readonly Result[] = ['success', 'failure'];

/** Redis round trips: from a fraction of a millisecond to a second. */
const ROUND_TRIP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** Work on one stream: from 100 ms to an hour. */
const PROCESSING_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/**
 * The reasons of `recordDeadLetter` are free text (they name sizes and fields); as label values
 * they are mapped to this fixed set, so a flood of bad entries cannot create new time series.
 */
export const DEAD_LETTER_REASONS = ['not_json', 'missing_field', 'oversized', 'separator_in_name', 'invalid_message', 'duplicate', 'other'] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

export function deadLetterReason(reason: string): DeadLetterReason {
  if (reason.startsWith('not JSON')) return 'not_json';
  if (reason.startsWith('expected the field')) return 'missing_field';
  if (reason.startsWith('oversized')) return 'oversized';
  if (reason.includes('lock-key separator')) return 'separator_in_name';
  if (reason.includes(' must be ')) return 'invalid_message';
  if (reason.startsWith('duplicate')) return 'duplicate';
  return 'other';
}

export class PrometheusRecorder implements MetricsRecorder {
  readonly registry: Registry;

  /** Claims of expired streams (`claim()`, also through `claimExpired`); `failure` = another consumer won or holds the stream. */
  readonly claimAttempts: Counter<'result'>;
  /** Time one claim took (the XCLAIM script round trip), in seconds. */
  readonly claimDuration: Histogram<'result'>;
  /** Lock acquisitions: one per stream handed out from the LBS and one per claim; `failure` = the lock was held by another consumer. */
  readonly lockAcquisitions: Counter<'result'>;
  /** Time to take the locks of one batch of new LBS entries, or of one claim, in seconds. */
  readonly lockAcquisitionDuration: Histogram<'result'>;
  /** Heartbeat extensions of owned locks (one per owned stream every `hbInterval / 2`); `failure` = the lock is held by another consumer (the stream is disowned). */
  readonly lockExtensions: Counter<'result'>;
  /** Locks given up: by `doneStream` (also in `done()` and `processStreams`) and by `release` / `shutdown()`; `failure` = the lock was no longer this consumer's. */
  readonly lockReleases: Counter<'result'>;
  /**
   * Streams this consumer owns: up when one is handed out or claimed (`recordStreamProcessingStart`),
   * down when it no longer owns it (`recordStreamProcessingEnd`): finished with `doneStream`, handed
   * back (`release`, `shutdown()`, a failed `processStreams` handler), or disowned.
   */
  readonly streamsInProgress: Gauge;
  /** From owning a stream (handed out or claimed) to no longer owning it (finished, handed back or disowned), in seconds. */
  readonly streamProcessingDuration: Histogram;
  /** Lock expiries of other consumers' streams heard through keyspace notifications (each becomes a `StreamExpired`). */
  readonly keyspaceNotifications: Counter;
  /** Lock expiries heard but dropped because the LBS entry could not be read (Redis error); the recovery sweep finds those streams later. */
  readonly keyspaceNotificationsDropped: Counter;
  /** LBS entries that could not be decoded, copied to `<service>-dead` and acknowledged, by reason. */
  readonly deadLetters: Counter<'reason'>;
  /** Start-up recoveries (pending LBS entries whose owner is gone, taken over at start), by result. */
  readonly startupRecoveries: Counter<'result'>;
  /** Time the start-up recovery took, in seconds. */
  readonly startupRecoveryDuration: Histogram<'result'>;
  /** Streams the last start-up recovery took over. */
  readonly startupRecoveredStreams: Gauge;

  constructor(options: PrometheusRecorderOptions = {}) {
    const registry = (this.registry = options.registry ?? new Registry());
    const p = options.prefix ?? 'redis_stream_client_';
    const registers = [registry];

    this.claimAttempts = new Counter({ name: `${p}claim_attempts_total`, help: 'Claims of expired streams, by result (failure: another consumer won).', labelNames: ['result'], registers });
    this.claimDuration = new Histogram({ name: `${p}claim_duration_seconds`, help: 'Duration of one claim of an expired stream.', labelNames: ['result'], buckets: ROUND_TRIP_BUCKETS, registers });
    this.lockAcquisitions = new Counter({ name: `${p}lock_acquisitions_total`, help: 'Lock acquisitions of handed-out and claimed streams, by result.', labelNames: ['result'], registers });
    this.lockAcquisitionDuration = new Histogram({ name: `${p}lock_acquisition_duration_seconds`, help: 'Duration of one lock acquisition round trip.', labelNames: ['result'], buckets: ROUND_TRIP_BUCKETS, registers });
    this.lockExtensions = new Counter({ name: `${p}lock_extensions_total`, help: 'Heartbeat extensions of owned locks, by result (failure: the stream was disowned).', labelNames: ['result'], registers });
    this.lockReleases = new Counter({ name: `${p}lock_releases_total`, help: 'Locks released by doneStream or release, by result.', labelNames: ['result'], registers });
    this.streamsInProgress = new Gauge({ name: `${p}streams_in_progress`, help: 'Streams owned by this consumer and not finished yet.', registers });
    this.streamProcessingDuration = new Histogram({ name: `${p}stream_processing_duration_seconds`, help: 'From owning a stream to finishing it with doneStream.', buckets: PROCESSING_BUCKETS, registers });
    this.keyspaceNotifications = new Counter({ name: `${p}keyspace_notifications_total`, help: "Lock expiries of other consumers' streams heard through keyspace notifications.", registers });
    this.keyspaceNotificationsDropped = new Counter({ name: `${p}keyspace_notifications_dropped_total`, help: 'Lock expiries dropped because their LBS entry could not be read.', registers });
    this.deadLetters = new Counter({ name: `${p}dead_letters_total`, help: 'Undecodable LBS entries moved to the dead-letter stream, by reason.', labelNames: ['reason'], registers });
    this.startupRecoveries = new Counter({ name: `${p}startup_recoveries_total`, help: 'Start-up recoveries of pending LBS entries, by result.', labelNames: ['result'], registers });
    this.startupRecoveryDuration = new Histogram({ name: `${p}startup_recovery_duration_seconds`, help: 'Duration of the start-up recovery.', labelNames: ['result'], buckets: ROUND_TRIP_BUCKETS.concat([2.5, 5, 10, 30]), registers });
    this.startupRecoveredStreams = new Gauge({ name: `${p}startup_recovered_streams`, help: 'Streams taken over by the last start-up recovery.', registers });

    // Every known label value starts at 0, so rates and alerts work before the first event.
    for (const r of RESULTS) {
      for (const counter of [this.claimAttempts, this.lockAcquisitions, this.lockExtensions, this.lockReleases, this.startupRecoveries]) counter.labels(r).inc(0);
      for (const histogram of [this.claimDuration, this.lockAcquisitionDuration, this.startupRecoveryDuration]) histogram.zero({ result: r });
    }
    for (const reason of DEAD_LETTER_REASONS) this.deadLetters.labels(reason).inc(0);
  }

  recordClaimAttempt(_streamName: string, success: boolean, durationMs: number): void {
    this.claimAttempts.labels(result(success)).inc();
    this.claimDuration.labels(result(success)).observe(durationMs / 1000);
  }

  recordLockAcquisitionAttempt(_streamName: string, success: boolean, durationMs: number): void {
    this.lockAcquisitions.labels(result(success)).inc();
    this.lockAcquisitionDuration.labels(result(success)).observe(durationMs / 1000);
  }

  recordLockExtensionAttempt(_streamName: string, success: boolean): void {
    this.lockExtensions.labels(result(success)).inc();
  }

  recordLockReleaseAttempt(_streamName: string, success: boolean): void {
    this.lockReleases.labels(result(success)).inc();
  }

  recordStreamProcessingStart(_streamName: string, _startTime: Date): void {
    this.streamsInProgress.inc();
  }

  recordStreamProcessingEnd(_streamName: string, startTime: Date): void {
    this.streamsInProgress.dec();
    this.streamProcessingDuration.observe(Math.max(0, Date.now() - startTime.getTime()) / 1000);
  }

  recordKspNotification(_streamName: string): void {
    this.keyspaceNotifications.inc();
  }

  recordKspNotificationDropped(): void {
    this.keyspaceNotificationsDropped.inc();
  }

  recordDeadLetter(reason: string): void {
    this.deadLetters.labels(deadLetterReason(reason)).inc();
  }

  recordStartupRecovery(success: boolean, unackedCount: number, durationMs: number): void {
    this.startupRecoveries.labels(result(success)).inc();
    this.startupRecoveryDuration.labels(result(success)).observe(durationMs / 1000);
    this.startupRecoveredStreams.set(unackedCount);
  }
}
