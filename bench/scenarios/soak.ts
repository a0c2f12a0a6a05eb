/**
 * Soak (only with --soak; --soak-seconds, default 600): one client (child process, --expose-gc,
 * readCount 1000) keeps a base of 10k streams and, meanwhile, streams come and go: the benchmark
 * adds CHURN_PER_SECOND new LBS entries per second and the client finishes each one (doneStream)
 * after a random hold of 0-4 s. heapUsed after GC is sampled every 30 s (every tenth of the run
 * if shorter); the first minute (a fifth of the run if shorter) is a warm-up. Pass: the heap at the end is within max(5%, 2 MiB) of the heap after the warm-up.
 */
import { LBS_FIELD, lbsKey } from '../../lib';
import { ChildConsumer } from '../../support/child';
import type { RedisServer } from '../../support/redis-server';
import { createGroup, sleep } from '../../support/service';
import { fillLbs, lbsJson } from '../lib/lbs';
import type { BenchConfig, Row } from '../lib/report';
import { fmt, progress } from '../lib/stats';

const BASE = 10_000;
const CHURN_PER_SECOND = 200;

export const soakScenario = async (server: RedisServer, config: BenchConfig): Promise<Row[]> => {
  const service = 'bench-soak';
  const churnPrefix = `${service}:churn-`;
  const redis = server.connect();
  await createGroup(redis, service);
  const child = new ChildConsumer(
    { redisUrl: server.url, service, pod: 'bench-soak', readCount: 1000, report: 'counts', target: BASE, work: 'churn', churnPrefix, churnHoldMs: 4000 },
    { nodeFlags: ['--expose-gc'] },
  );
  let producing = true;
  let produced = 0;
  const producer = (async () => {
    while (producing) {
      const t0 = Date.now();
      const pipeline = redis.pipeline();
      for (let i = 0; i < CHURN_PER_SECOND / 10; i++) pipeline.xadd(lbsKey(service), '*', LBS_FIELD, lbsJson(`${churnPrefix}${++produced}`, { n: produced }));
      await pipeline.exec();
      await sleep(Math.max(0, 100 - (Date.now() - t0)));
    }
  })();
  producer.catch(() => undefined);
  try {
    await child.waitFor('ready', { timeoutMs: 30_000 });
    await fillLbs(redis, service, BASE);
    await child.waitFor('owned', { timeoutMs: 120_000 });
    const durationMs = config.soakSeconds * 1000;
    const sampleEveryMs = Math.min(30_000, durationMs / 10);
    const warmupMs = Math.min(60_000, durationMs / 5);
    progress('soak', `base of ${BASE} streams owned; ${CHURN_PER_SECOND} streams/s coming and going for ${config.soakSeconds} s`);
    const t0 = Date.now();
    const heap: { atS: number; heapUsed: number; finished: number; disowned: number }[] = [];
    while (Date.now() - t0 < durationMs) {
      await sleep(Math.min(sampleEveryMs, durationMs - (Date.now() - t0)));
      const h = await child.ask({ cmd: 'heap' }, 60_000);
      heap.push({ atS: (Date.now() - t0) / 1000, heapUsed: h.heapUsed, finished: h.finished, disowned: h.disowned });
      progress('soak', `t=${fmt((Date.now() - t0) / 1000, 0)} s heapUsed ${fmt(h.heapUsed / 2 ** 20, 2)} MiB, ${h.finished} streams finished, ${h.failedDone} doneStream errors`);
    }
    const afterWarmup = heap.find((s) => s.atS * 1000 >= warmupMs) ?? heap[0]!;
    const last = heap[heap.length - 1]!;
    const growth = last.heapUsed - afterWarmup.heapUsed;
    const allowed = Math.max(0.05 * afterWarmup.heapUsed, 2 * 2 ** 20);
    const disowned = last.disowned;
    return [
      {
        id: 'soak',
        scenario: `5 soak ${config.soakSeconds} s, heap growth after warm-up`,
        ours: `${growth >= 0 ? '+' : ''}${fmt(growth / 2 ** 20, 2)} MiB`,
        baseline: `${fmt(afterWarmup.heapUsed / 2 ** 20, 1)} MiB at ${fmt(afterWarmup.atS, 0)} s`,
        ratio: `${fmt((100 * growth) / afterWarmup.heapUsed, 1)}%`,
        target: '<= max(5%, 2 MiB)',
        pass: growth <= allowed && disowned === 0,
        values: { heap, base: BASE, churnPerSecond: CHURN_PER_SECOND, produced, finished: last.finished, disowned, growthBytes: growth },
      },
    ];
  } finally {
    producing = false;
    await producer.catch(() => undefined);
    await child.stop();
    redis.disconnect();
  }
};
