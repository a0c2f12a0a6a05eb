import { monitorEventLoopDelay } from 'node:perf_hooks';
import type Redis from 'ioredis';
import { HeartbeatProbe } from './heartbeat-probe';
import type { Counts, EventOf } from './protocol';

type Body<K extends 'heap' | 'cpu'> = Omit<EventOf<K>, 'at' | 'consumer' | 'pid'>;

const gc = (globalThis as { gc?: () => void }).gc;

/** The reply to `heap`: heap after three GCs (the child needs --expose-gc), with the counters. */
export const heapReport = (counts: Counts): Body<'heap'> => {
  for (let i = 0; i < 3; i++) gc?.();
  const m = process.memoryUsage();
  const { added, disowned, released, claimed, expired, claimsLost, finished, failedDone } = counts;
  return { event: 'heap', gc: gc !== undefined, heapUsed: m.heapUsed, heapTotal: m.heapTotal, rss: m.rss, external: m.external, added, disowned, released, claimed, expired, claimsLost, owned: added + claimed - finished - disowned - released, finished, failedDone };
};

let probe: HeartbeatProbe | undefined;

/**
 * The reply to `cpu`: this process's CPU time, the event-loop delay and the heartbeat's ticks
 * (support/heartbeat-probe.ts, on the client's connection `redis`) over the next `ms`, with the
 * counters at the end.
 */
export const cpuReport = (redis: Redis, ms: number, counts: Counts): Promise<Body<'cpu'>> => {
  probe ??= new HeartbeatProbe(redis);
  const ticks = probe;
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  ticks.reset();
  ticks.recording = true;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  return new Promise((resolve) =>
    setTimeout(() => {
      const cpu = process.cpuUsage(cpu0);
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      lag.disable();
      ticks.recording = false;
      resolve({
        event: 'cpu',
        heartbeatTicksMs: ticks.ticks().map((t) => Math.round(t.ms * 10) / 10),
        cpuMs: (cpu.user + cpu.system) / 1000,
        userMs: cpu.user / 1000,
        systemMs: cpu.system / 1000,
        wallMs,
        maxLoopDelayMs: lag.max / 1e6,
        p99LoopDelayMs: lag.percentile(99) / 1e6,
        ...counts,
      });
    }, ms),
  );
};
