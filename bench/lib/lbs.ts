import type Redis from 'ioredis';
import { LBS_FIELD, lbsKey } from '../../lib';

/** The LBS entry value the library and the Go library read: `{"DataStreamName": ..., "Info": {...}}`. */
export const lbsJson = (dataStreamName: string, info: Record<string, unknown> = {}): string =>
  JSON.stringify({ DataStreamName: dataStreamName, Info: info });

export const streamName = (service: string, i: number): string => `${service}:stream-${String(i).padStart(6, '0')}`;

/** XADD of `count` entries (names `streamName(service, from + i)`), pipelined 1000 at a time; resolves the ids. */
export const fillLbs = async (redis: Redis, service: string, count: number, from = 0): Promise<string[]> => {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 1000) {
    const pipeline = redis.pipeline();
    const end = Math.min(count, start + 1000);
    for (let i = start; i < end; i++) pipeline.xadd(lbsKey(service), '*', LBS_FIELD, lbsJson(streamName(service, from + i), { n: from + i }));
    for (const [err, id] of (await pipeline.exec()) ?? []) {
      if (err) throw err;
      ids.push(id as string);
    }
  }
  return ids;
};

/** Runs a script registered with `defineCommand` (ioredis adds it as a method). */
export const callScript = (redis: Redis, name: string, ...args: (string | number)[]): Promise<unknown> =>
  (redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[name]!(...args);
