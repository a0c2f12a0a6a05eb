import { execFileSync } from 'node:child_process';
import { LocalCluster } from '../../support/cluster';
import { RedisServer, hasRedisServer } from '../../support/redis-server';
import { clusterUrl } from '../../support/redis-url';

/** How the suite reaches Redis: REDIS_URL, else a private redis-server, else a testcontainers redis:7. */
export interface ProvisionedRedis {
  readonly url: string;
  readonly how: string;
  stop(): Promise<void>;
}

const hasDocker = (): boolean => {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
};

export const provisionRedis = async (): Promise<ProvisionedRedis> => {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv) return { url: fromEnv, how: `REDIS_URL=${fromEnv}`, stop: async () => undefined };
  if (hasRedisServer()) {
    // Not tracked: it serves the whole run, also after a spec's `killAll`.
    const server = await RedisServer.start({ tracked: false });
    return { url: server.url, how: `private redis-server on port ${server.port}`, stop: () => server.stop() };
  }
  if (hasDocker()) {
    const { GenericContainer } = await import('testcontainers');
    const container = await new GenericContainer('redis:7').withExposedPorts(6379).start();
    const url = `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
    return { url, how: `testcontainers redis:7 at ${url}`, stop: async () => void (await container.stop()) };
  }
  throw new Error(
    'No Redis for the tests: set REDIS_URL=redis://host:port, or install redis-server (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis), or run a Docker engine for testcontainers.',
  );
};

/** RSCRX_CLUSTER=1: a local Redis Cluster of 3 primaries and 3 replicas (support/cluster.ts); its URL is `cluster:<seeds>`. */
export const provisionCluster = async (): Promise<ProvisionedRedis> => {
  const cluster = await LocalCluster.start({ tracked: false });
  return { url: clusterUrl(cluster.seeds), how: `local Redis Cluster on ports ${cluster.nodes.map((n) => n.port).join(', ')}`, stop: () => cluster.stop() };
};
