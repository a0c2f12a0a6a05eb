import type { SchedulerLike } from 'rxjs';
import type { RawEntry } from '../../lib/codecs/lbs-message';
import { resolveOptions } from '../../lib/codecs/options';
import type { ClientDeps } from '../../lib/deps';
import { lockKey, serviceKeys } from '../../lib/keys';
import { LeaseLedger } from '../../lib/lease/ledger';
import { LockManager } from '../../lib/lease/lock-manager';
import type { LbsPort } from '../../lib/port';
import type { ClientOptions, LbsInfo, Logger, OwnedLbsInfo, ResolvedOptions } from '../../lib/types';

/** Every log line a spec's client wrote, as [level, message, object]. */
export type LogLine = [level: string, message: string | undefined, obj: object];

export const recordingLogger = (lines: LogLine[]): Logger => ({
  debug: (obj, msg) => void lines.push(['debug', msg, obj]),
  info: (obj, msg) => void lines.push(['info', msg, obj]),
  warn: (obj, msg) => void lines.push(['warn', msg, obj]),
  error: (obj, msg) => void lines.push(['error', msg, obj]),
});

/** A port whose every method throws unless the spec stubs it: a source that calls Redis unexpectedly fails its spec. */
export const fakePort = (stubs: Partial<LbsPort>): LbsPort =>
  new Proxy({ consumer: 'redis-consumer-me', ...stubs } as LbsPort, {
    get: (target, prop: string) => {
      if (prop in target) return target[prop as keyof LbsPort];
      if (prop === 'then') return undefined;
      return () => {
        throw new Error(`port.${prop} was called, but the spec did not stub it`);
      };
    },
  });

export const options = (overrides: ClientOptions = {}): ResolvedOptions => {
  const resolved = resolveOptions({ consumerId: 'me', hbInterval: 10, ...overrides }, {});
  if (resolved._tag === 'Left') throw resolved.left;
  return resolved.right;
};

export interface SpecDeps extends ClientDeps {
  readonly logs: LogLine[];
}

/** The dependencies of a source, on the spec's scheduler and port (hbInterval 10 unless `overrides` says otherwise). */
export const specDeps = (scheduler: SchedulerLike, port: LbsPort, overrides: ClientOptions = {}): SpecDeps => {
  const logs: LogLine[] = [];
  const log = recordingLogger(logs);
  const resolved = options({ ...overrides, logger: log });
  const ledger = new LeaseLedger(lockKey, () => scheduler.now(), 10 * resolved.hbInterval, {}, resolved.maxStreams);
  const locks = new LockManager({ ledger, port, ttl: resolved.hbInterval, scheduler, log, metrics: {} });
  return { service: 'svc', keys: serviceKeys('svc'), port, ledger, locks, options: resolved, scheduler, log, metrics: {}, lockKeyOf: lockKey, logs };
};

export const info = (name: string, id = '1-0'): LbsInfo => ({ dataStreamName: name, idInLbs: id });

/** The payload of `StreamAdded` / `StreamClaimed`: `info` with the fence the take returned (the fake ports return 1). */
export const owned = (name: string, id = '1-0', fence = 1): OwnedLbsInfo => ({ dataStreamName: name, idInLbs: id, fence });

/** An LBS entry as Redis returns it, for the stream `name`. */
export const raw = (id: string, name: string, extra: Record<string, unknown> = {}): RawEntry => ({
  id,
  fields: ['lbs-input', JSON.stringify({ DataStreamName: name, Info: extra })],
});

/** Messages of the spec's log lines at `level`. */
export const messages = (logs: readonly LogLine[], level: string): (string | undefined)[] => logs.filter(([l]) => l === level).map(([, m]) => m);

