/**
 * An OpenTelemetry `MetricsRecorder`, shipped on the subpath `redis-stream-client-rx/otel`; it
 * needs `@opentelemetry/api` (an optional peer dependency of the package) and an SDK (a
 * `MeterProvider`) set up by the application.
 *
 * Names follow OpenTelemetry's metric naming guidelines: lowercase, dot-separated namespaces under
 * `redis_stream_client.`, snake_case within a component, units as UCUM codes in the instrument's
 * unit (`s`; `{stream}`, `{claim}`, `{entry}` for counts), never in the name, and no `_total`
 * suffix (a Prometheus exporter adds its own). The semantic conventions define no metric for
 * this domain, so the attributes are the library's own, in its namespace: every measurement
 * carries `redis_stream_client.service` and, when known, `redis_stream_client.consumer`; no
 * attribute ever holds a stream name (unbounded), only values from small fixed sets.
 */
import { metrics as otelMetrics } from '@opentelemetry/api';
import type { Attributes, BatchObservableCallback, Counter, Histogram, Meter, ObservableGauge, UpDownCounter } from '@opentelemetry/api';
import { consumerName, groupName, lbsKey } from '../keys';
import type { MetricsRecorder, NotificationType } from '../types';

/**
 * The instrumentation scope of the default meter.
 * @example
 * metrics.getMeterProvider().getMeter(METER_NAME); // the meter the recorder uses by default
 */
export const METER_NAME = 'redis-stream-client-rx';

/**
 * Every instrument's name, by what it measures.
 * @example
 * // e.g. in a View of the SDK's MeterProvider, or to find an instrument in a test:
 * const owned = OTEL_METRICS.owned; // 'redis_stream_client.streams.owned'
 */
export const OTEL_METRICS = {
  owned: 'redis_stream_client.streams.owned',
  handedOut: 'redis_stream_client.streams.handed_out',
  claimed: 'redis_stream_client.streams.claimed',
  claimsLost: 'redis_stream_client.claims.lost',
  disowned: 'redis_stream_client.streams.disowned',
  expired: 'redis_stream_client.streams.expired',
  released: 'redis_stream_client.streams.released',
  finished: 'redis_stream_client.streams.finished',
  deadLettered: 'redis_stream_client.entries.dead_lettered',
  claimDuration: 'redis_stream_client.claim.duration',
  heartbeatDuration: 'redis_stream_client.heartbeat.duration',
  takeoverDuration: 'redis_stream_client.takeover.duration',
  lbsLength: 'redis_stream_client.lbs.length',
  lbsPending: 'redis_stream_client.lbs.pending',
} as const;

/**
 * Attribute keys.
 * @example
 * const byService = (attributes: Record<string, unknown>) => attributes[OTEL_ATTRIBUTES.service]; // 'redis_stream_client.service'
 */
export const OTEL_ATTRIBUTES = {
  service: 'redis_stream_client.service',
  consumer: 'redis_stream_client.consumer',
  /** `won` or `lost`, on `claim.duration`. */
  claimOutcome: 'redis_stream_client.claim.outcome',
  /** A fixed set (see `deadLetterReason`), on `entries.dead_lettered`. */
  deadLetterReason: 'redis_stream_client.dead_letter.reason',
  /** On a `heartbeat.duration` that failed (Redis error, or no answer within the TTL): `_OTHER`, as the semantic conventions' `error.type`. */
  errorType: 'error.type',
} as const;

/**
 * The reasons of dead letters, mapped to a fixed set so a flood of bad entries cannot create new series.
 * @example
 * const reason: DeadLetterReason = deadLetterReason('not JSON: Unexpected token'); // 'not_json'
 */
export type DeadLetterReason = 'not_json' | 'missing_field' | 'oversized' | 'separator_in_name' | 'invalid_message' | 'duplicate' | 'other';

/**
 * The fixed reason of a dead letter, from the free text the client records.
 * @example
 * deadLetterReason('oversized entry: 2000000 bytes'); // 'oversized'
 */
export const deadLetterReason = (reason: string): DeadLetterReason => {
  if (reason.startsWith('not JSON')) return 'not_json';
  if (reason.startsWith('expected the field')) return 'missing_field';
  if (reason.startsWith('oversized')) return 'oversized';
  if (reason.includes('lock-key separator')) return 'separator_in_name';
  if (reason.startsWith('duplicate')) return 'duplicate';
  if (reason.includes(' must be ')) return 'invalid_message';
  return 'other';
};

/** Round trips to Redis, in seconds: 0.5 ms to 2.5 s. */
const ROUND_TRIP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** From an `expired` event to a claim won, in seconds. */
const TAKEOVER_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * What the LBS gauges read: the two commands, on any ioredis connection.
 * @example
 * const reader: LbsReader = redis; // any ioredis connection
 * new OpenTelemetryRecorder({ service: 'my-service', redis: reader });
 */
export interface LbsReader {
  xlen(key: string): Promise<number>;
  xpending(key: string, group: string): Promise<unknown>;
}

/**
 * Options of `new OpenTelemetryRecorder(options)`.
 * @example
 * const options: OpenTelemetryRecorderOptions = { service: 'my-service', consumerId: 'worker-1', redis };
 * const recorder = new OpenTelemetryRecorder(options);
 */
export interface OpenTelemetryRecorderOptions {
  /** The service of the client (the `service` argument of `new RedisStreamClient`). */
  readonly service: string;
  /** The client's `consumerId`: measurements carry `redis_stream_client.consumer` = `redis-consumer-<id>`. */
  readonly consumerId?: string;
  /** Where the instruments are created. Default: `metrics.getMeter('redis-stream-client-rx')` of the global provider. */
  readonly meter?: Meter;
  /**
   * A connection to read the LBS length and pending count from at each collection (XLEN and
   * XPENDING, one round trip each). Without it those two gauges are not registered.
   */
  readonly redis?: LbsReader;
}

/**
 * A `MetricsRecorder` that reports to OpenTelemetry: pass it as the client's `metrics` option.
 *
 * | instrument | kind | unit | what |
 * | --- | --- | --- | --- |
 * | `redis_stream_client.streams.owned` | UpDownCounter | `{stream}` | streams this consumer owns now (sums to the fleet's) |
 * | `redis_stream_client.streams.handed_out` | Counter | `{stream}` | `StreamAdded`: new or recovered streams handed to this consumer |
 * | `redis_stream_client.streams.claimed` | Counter | `{stream}` | claims of expired streams won |
 * | `redis_stream_client.claims.lost` | Counter | `{claim}` | claims lost (another consumer won or holds it) |
 * | `redis_stream_client.streams.disowned` | Counter | `{stream}` | `StreamDisowned` |
 * | `redis_stream_client.streams.expired` | Counter | `{stream}` | `StreamExpired`: other consumers' locks heard expiring |
 * | `redis_stream_client.streams.released` | Counter | `{stream}` | handed back unfinished (`release`, `shutdown()`) |
 * | `redis_stream_client.streams.finished` | Counter | `{stream}` | finished with `doneStream` (also in `done()`) |
 * | `redis_stream_client.entries.dead_lettered` | Counter | `{entry}` | LBS entries moved to `<service>-dead`, by reason |
 * | `redis_stream_client.claim.duration` | Histogram | `s` | one claim's round trip, by outcome |
 * | `redis_stream_client.heartbeat.duration` | Histogram | `s` | one heartbeat tick (every owned lock extended) |
 * | `redis_stream_client.takeover.duration` | Histogram | `s` | from the `expired` event heard to the claim won |
 * | `redis_stream_client.lbs.length` | ObservableGauge | `{entry}` | XLEN of the LBS (with `redis`) |
 * | `redis_stream_client.lbs.pending` | ObservableGauge | `{entry}` | entries handed out and not done (with `redis`) |
 *
 * ## Example
 * ```ts
 * import { OpenTelemetryRecorder } from 'redis-stream-client-rx/otel';
 * const metrics = new OpenTelemetryRecorder({ service: 'my-service', consumerId: 'worker-1', redis });
 * const client = new RedisStreamClient(redis, 'my-service', { consumerId: 'worker-1', metrics });
 * // ... at the end: metrics.close() (stops reading the LBS at collections)
 * ```
 */
export class OpenTelemetryRecorder implements MetricsRecorder {
  /** Attributes on every measurement: the service and the consumer. */
  readonly attributes: Attributes;
  private readonly meter: Meter;
  private readonly owned: UpDownCounter;
  private readonly handedOut: Counter;
  private readonly claimed: Counter;
  private readonly claimsLost: Counter;
  private readonly disowned: Counter;
  private readonly expired: Counter;
  private readonly released: Counter;
  private readonly finished: Counter;
  private readonly deadLettered: Counter;
  private readonly claimDuration: Histogram;
  private readonly heartbeatDuration: Histogram;
  private readonly takeoverDuration: Histogram;
  private readonly lbsGauges: { readonly length: ObservableGauge; readonly pending: ObservableGauge; readonly observe: BatchObservableCallback } | undefined;

  constructor(options: OpenTelemetryRecorderOptions) {
    const { service, consumerId, redis } = options;
    const meter = (this.meter = options.meter ?? otelMetrics.getMeter(METER_NAME));
    this.attributes = {
      [OTEL_ATTRIBUTES.service]: service,
      ...(consumerId === undefined ? {} : { [OTEL_ATTRIBUTES.consumer]: consumerName(consumerId) }),
    };
    const count = (name: string, unit: string, description: string) => meter.createCounter(name, { unit, description });
    const seconds = (name: string, description: string, buckets: number[]) =>
      meter.createHistogram(name, { unit: 's', description, advice: { explicitBucketBoundaries: buckets } });
    const M = OTEL_METRICS;

    this.owned = meter.createUpDownCounter(M.owned, { unit: '{stream}', description: 'Streams this consumer owns.' });
    this.handedOut = count(M.handedOut, '{stream}', 'Streams handed to this consumer from the LBS or recovered (StreamAdded).');
    this.claimed = count(M.claimed, '{stream}', 'Expired streams this consumer claimed.');
    this.claimsLost = count(M.claimsLost, '{claim}', 'Claims this consumer lost: another consumer won or holds the stream.');
    this.disowned = count(M.disowned, '{stream}', 'Streams this consumer was told it no longer owns (StreamDisowned).');
    this.expired = count(M.expired, '{stream}', "Other consumers' streams heard losing their owner (StreamExpired).");
    this.released = count(M.released, '{stream}', 'Streams handed back unfinished (release, shutdown).');
    this.finished = count(M.finished, '{stream}', 'Streams finished with doneStream.');
    this.deadLettered = count(M.deadLettered, '{entry}', 'LBS entries moved to the dead-letter stream, by reason.');
    this.claimDuration = seconds(M.claimDuration, 'Duration of one claim of an expired stream.', ROUND_TRIP_BUCKETS);
    this.heartbeatDuration = seconds(M.heartbeatDuration, 'Duration of one heartbeat: every owned lock extended.', ROUND_TRIP_BUCKETS);
    this.takeoverDuration = seconds(M.takeoverDuration, 'From the expiry of a lock heard to the claim won.', TAKEOVER_BUCKETS);

    if (redis !== undefined) {
      const length = meter.createObservableGauge(M.lbsLength, { unit: '{entry}', description: 'Entries in the load-balancer stream.' });
      const pending = meter.createObservableGauge(M.lbsPending, { unit: '{entry}', description: 'LBS entries handed out and not done yet.' });
      const observe: BatchObservableCallback = async (result) => {
        const [len, summary] = await Promise.all([redis.xlen(lbsKey(service)), redis.xpending(lbsKey(service), groupName(service)).catch(() => [0])]);
        result.observe(length, len, this.attributes);
        result.observe(pending, Number((summary as unknown[])[0] ?? 0), this.attributes);
      };
      meter.addBatchObservableCallback(observe, [length, pending]);
      this.lbsGauges = { length, pending, observe };
    }
  }

  /** Stops observing the LBS gauges (nothing else holds a resource). Safe to call twice. */
  close(): void {
    if (this.lbsGauges === undefined) return;
    const { length, pending, observe } = this.lbsGauges;
    this.meter.removeBatchObservableCallback(observe, [length, pending]);
  }

  recordClaimAttempt(_streamName: string, success: boolean, durationMs: number): void {
    (success ? this.claimed : this.claimsLost).add(1, this.attributes);
    this.claimDuration.record(durationMs / 1000, { ...this.attributes, [OTEL_ATTRIBUTES.claimOutcome]: success ? 'won' : 'lost' });
  }

  recordLockReleaseAttempt(_streamName: string, success: boolean, kind?: 'done' | 'release'): void {
    if (!success || kind === undefined) return;
    (kind === 'done' ? this.finished : this.released).add(1, this.attributes);
  }

  recordStreamProcessingStart(): void {
    this.owned.add(1, this.attributes);
  }

  recordStreamProcessingEnd(): void {
    this.owned.add(-1, this.attributes);
  }

  recordNotification(type: NotificationType): void {
    if (type === 'StreamAdded') this.handedOut.add(1, this.attributes);
    else if (type === 'StreamExpired') this.expired.add(1, this.attributes);
    else this.disowned.add(1, this.attributes);
  }

  recordHeartbeat(_locks: number, success: boolean, durationMs: number): void {
    this.heartbeatDuration.record(durationMs / 1000, success ? this.attributes : { ...this.attributes, [OTEL_ATTRIBUTES.errorType]: '_OTHER' });
  }

  recordTakeover(_streamName: string, durationMs: number): void {
    this.takeoverDuration.record(durationMs / 1000, this.attributes);
  }

  recordDeadLetter(reason: string): void {
    this.deadLettered.add(1, { ...this.attributes, [OTEL_ATTRIBUTES.deadLetterReason]: deadLetterReason(reason) });
  }
}
