import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import * as t from 'io-ts';
import { ConsumerIdMissingError, InvalidOptionsError, RedisStreamClientError } from '../errors';
import type { ClientOptions, Logger, MetricsRecorder, ResolvedOptions } from '../types';

export const DEFAULTS = {
  hbInterval: 2000,
  lbsIdleTime: 40000,
  lbsRecoveryCount: 1000,
  readCount: 10,
  maxEntryBytes: 1024 * 1024,
  retry: { maxRetries: 5, initialDelay: 100, maxDelay: 30000 },
} as const;

const noop = (): void => undefined;
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

const optional = <C extends t.Mixed>(codec: C) => t.union([codec, t.undefined]);
const PositiveInt = t.refinement(t.number, (n) => Number.isInteger(n) && n > 0, 'a positive integer');
const Methods = t.UnknownRecord;

/** The shape a JavaScript caller must pass (types only; ranges are checked by `resolveOptions`). */
export const ClientOptionsCodec = t.partial({
  consumerId: optional(t.string),
  hbInterval: optional(PositiveInt),
  lbsIdleTime: optional(PositiveInt),
  lbsRecoveryCount: optional(PositiveInt),
  readCount: optional(PositiveInt),
  reapInterval: optional(PositiveInt),
  reconcileInterval: optional(PositiveInt),
  maxEntryBytes: optional(PositiveInt),
  retry: optional(
    t.partial({
      maxRetries: optional(t.refinement(t.number, (n) => Number.isInteger(n) && n >= -1, 'an integer >= -1')),
      initialDelay: optional(PositiveInt),
      maxDelay: optional(PositiveInt),
    }),
  ),
  forceConfigOverride: optional(t.boolean),
  keyLayout: optional(t.keyof({ go: null, tagged: null })),
  partitions: optional(PositiveInt),
  logger: optional(Methods),
  metrics: optional(Methods),
});

const explain = (errors: t.Errors): string =>
  errors
    .map((e) => {
      const path = e.context.map((c) => c.key).filter((k) => k !== '' && !/^\d+$/.test(k)).join('.');
      const type = e.context[e.context.length - 1]?.type.name;
      return `options.${path} must be ${type === 'undefined' ? 'left out' : type} (got ${JSON.stringify(e.value)})`;
    })
    .filter((m, i, all) => all.indexOf(m) === i && !m.includes('must be left out'))
    .join('; ');

const check = (ok: boolean, message: string) => (o: ResolvedOptions): E.Either<RedisStreamClientError, ResolvedOptions> =>
  ok ? E.right(o) : E.left(new InvalidOptionsError(message));

const isLogger = (l: unknown): l is Logger =>
  typeof l === 'object' && l !== null && ['debug', 'info', 'warn', 'error'].every((m) => typeof (l as Record<string, unknown>)[m] === 'function');

/**
 * Validates options and fills in the defaults; `env` supplies `POD_NAME` / `POD_IP`.
 * Left: `InvalidOptionsError` naming the option, or `ConsumerIdMissingError`.
 */
export const resolveOptions = (
  input: unknown,
  env: NodeJS.ProcessEnv,
): E.Either<RedisStreamClientError, ResolvedOptions> =>
  pipe(
    ClientOptionsCodec.decode(input ?? {}),
    E.mapLeft((errors): RedisStreamClientError => new InvalidOptionsError(`Invalid options: ${explain(errors)}.`)),
    E.map((o) => o as ClientOptions),
    E.chain((o) => {
      const consumerId = [o.consumerId, env.POD_NAME, env.POD_IP].find((id) => id !== undefined && id !== '');
      if (consumerId === undefined) return E.left(new ConsumerIdMissingError());
      if (o.logger !== undefined && !isLogger(o.logger)) {
        return E.left(new InvalidOptionsError('options.logger must have debug, info, warn and error methods (a pino logger works).'));
      }
      const hbInterval = o.hbInterval ?? DEFAULTS.hbInterval;
      return E.right<RedisStreamClientError, ResolvedOptions>({
        consumerId,
        hbInterval,
        lbsIdleTime: o.lbsIdleTime ?? Math.max(DEFAULTS.lbsIdleTime, 2 * hbInterval),
        lbsRecoveryCount: o.lbsRecoveryCount ?? DEFAULTS.lbsRecoveryCount,
        readCount: o.readCount ?? DEFAULTS.readCount,
        reapInterval: o.reapInterval ?? Math.max(1, Math.min(100, Math.floor(hbInterval / 4))),
        reconcileInterval: o.reconcileInterval ?? hbInterval,
        maxEntryBytes: o.maxEntryBytes ?? DEFAULTS.maxEntryBytes,
        retry: { ...DEFAULTS.retry, ...stripUndefined(o.retry ?? {}) },
        forceConfigOverride: o.forceConfigOverride ?? false,
        keyLayout: o.keyLayout,
        partitions: o.partitions,
        logger: o.logger ?? silentLogger,
        metrics: (o.metrics ?? {}) as MetricsRecorder,
      });
    }),
    E.chain((o) => check(o.hbInterval >= 10, `options.hbInterval must be at least 10 ms (got ${o.hbInterval}).`)(o)),
    E.chain((o) =>
      check(
        o.lbsIdleTime >= 2 * o.hbInterval,
        `options.lbsIdleTime (${o.lbsIdleTime} ms) must be at least 2 * hbInterval (${2 * o.hbInterval} ms).`,
      )(o),
    ),
    E.chain((o) =>
      check(
        o.retry.maxDelay >= o.retry.initialDelay,
        `options.retry.maxDelay (${o.retry.maxDelay} ms) must be at least retry.initialDelay (${o.retry.initialDelay} ms).`,
      )(o),
    ),
    E.chain((o) =>
      check(
        o.keyLayout !== 'go' || o.partitions === undefined || o.partitions === 1,
        `options.partitions (${o.partitions}) needs keyLayout 'tagged': the Go layout has one LBS per service.`,
      )(o),
    ),
    E.chain((o) =>
      check(!o.consumerId.includes(' '), `the consumer id must not contain spaces (got "${o.consumerId}").`)(o),
    ),
  );

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
