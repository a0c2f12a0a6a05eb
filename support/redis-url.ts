import Redis, { RedisOptions } from 'ioredis';
import { connectTo, sentinelOptions } from './sentinel';

/**
 * The address of the Redis the tests and tools talk to: a `redis://` URL, `cluster:<host>:<port>,...`
 * (the seed nodes of a Redis Cluster, see support/cluster.ts), or `redis-sentinel://<host>:<port>,.../<master>`
 * (a primary behind Sentinel, see support/sentinel.ts).
 */
export const isClusterUrl = (url: string): boolean => url.startsWith('cluster:');

export const clusterUrl = (seeds: readonly { host: string; port: number }[]): string => `cluster:${seeds.map((s) => `${s.host}:${s.port}`).join(',')}`;

/**
 * A connection to `url`: an ioredis `Redis`, or for a `cluster:` URL an ioredis `Cluster` (typed
 * as `Redis`: the commands the tests send have the same signatures). Errors are swallowed.
 */
export const connectUrl = (url: string, options: RedisOptions = {}): Redis => {
  if (sentinelOptions(url) !== undefined) return connectTo(url, options);
  if (!isClusterUrl(url)) {
    const redis = new Redis(url, options);
    redis.on('error', () => undefined);
    return redis;
  }
  const seeds = url
    .slice('cluster:'.length)
    .split(',')
    .map((hostPort) => {
      const [host, port] = hostPort.split(':');
      return { host: host!, port: Number(port) };
    });
  const { connectionName, ...redisOptions } = options;
  const cluster = new Redis.Cluster(seeds, { redisOptions: { ...redisOptions, connectionName }, slotsRefreshInterval: 1000 });
  cluster.on('error', () => undefined);
  return cluster as unknown as Redis;
};
