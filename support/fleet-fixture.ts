import { MUTEX_KEY_SEP } from '../lib';
import { ChildConsumer } from './child';
import type { ConsumerConfig } from './protocol';
import { scanKeys, sharedRedisUrl, streamName, useService } from './service';

/**
 * What the fleet specs share: child consumers of one service (killed at teardown), LBS entries
 * added in one pipeline, and the locks held in Redis counted by holder.
 */
export const fleetFixture = (t: ReturnType<typeof useService>, defaults: Partial<ConsumerConfig>) => {
  const child = (pod: string, config: Partial<ConsumerConfig> = {}): ChildConsumer => {
    const c = new ChildConsumer({ redisUrl: sharedRedisUrl(), service: t.service, pod, lbsIdleTime: 60_000, claim: true, ...defaults, ...config });
    t.onTeardown(() => c.kill());
    return c;
  };

  const addStreams = async (n: number, from = 0): Promise<void> => {
    const pipeline = t.admin.pipeline();
    for (let i = from; i < from + n; i++) pipeline.xadd(`${t.service}-input`, '*', 'lbs-input', JSON.stringify({ DataStreamName: streamName(t.service, i), Info: { i } }));
    await pipeline.exec();
  };

  /** Locks held in Redis, counted by holder: one SCAN, then the GETs in one pipeline. */
  const holders = async (): Promise<Map<string, number>> => {
    const keys = await scanKeys(t.admin, `${t.service}:*${MUTEX_KEY_SEP}*`);
    const pipeline = t.admin.pipeline();
    for (const key of keys) pipeline.get(key);
    const counts = new Map<string, number>();
    for (const [, holder] of (await pipeline.exec()) ?? []) if (typeof holder === 'string') counts.set(holder, (counts.get(holder) ?? 0) + 1);
    return counts;
  };

  return { child, addStreams, holders };
};
