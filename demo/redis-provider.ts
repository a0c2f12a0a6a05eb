/**
 * Finds a Redis for the demo: REDIS_URL if set, else 127.0.0.1:6379 if it answers PING, else a
 * private `redis-server` on a free port (no persistence, removed at the end), else it explains
 * what to install. The demo uses db 0 unless REDIS_URL names another.
 */
import Redis from 'ioredis';
import { killAll } from '../support/processes';
import { RedisServer, hasRedisServer } from '../support/redis-server';

export interface ProvidedRedis {
  readonly url: string;
  /** How it was found, for the screen. */
  readonly how: string;
  /** True for a private server the demo started (and stops): its keys vanish with it. */
  readonly private: boolean;
  stop(): Promise<void>;
}

/** Thrown when no Redis can be found or started; the message says what to do. */
export class NoRedisError extends Error {}

export const LOCAL_URL = 'redis://127.0.0.1:6379';
const MIN_VERSION = [6, 2];

export const INSTALL_HELP = `No Redis for the demo: REDIS_URL is not set, nothing answers PING on 127.0.0.1:6379,
and there is no redis-server binary on the PATH. Do one of:
  Debian/Ubuntu:   sudo apt-get install redis-server
  macOS:           brew install redis
  any Redis ${MIN_VERSION.join('.')}+: set REDIS_URL, e.g. REDIS_URL=redis://host:6379/0 npm run demo`;

/** The server's version, or an error (the socket's own, e.g. ECONNREFUSED) if it does not answer PING. */
export const pingVersion = async (url: string): Promise<string> => {
  let socketError: Error | undefined;
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', (err: Error) => (socketError ??= err));
  try {
    await redis.connect();
    await redis.ping();
    const info = await redis.info('server');
    return /redis_version:([\d.]+)/.exec(info)?.[1] ?? '0';
  } catch (err) {
    throw socketError ?? err;
  } finally {
    redis.disconnect();
  }
};

const answers = (url: string): Promise<string | undefined> => pingVersion(url).catch(() => undefined);

const isTooOld = (version: string): boolean => {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major < MIN_VERSION[0]! || (major === MIN_VERSION[0] && minor < MIN_VERSION[1]!);
};

/** Starts `redis-server` on a free port, with no persistence, and waits until it answers. */
const startPrivateServer = async (): Promise<ProvidedRedis> => {
  // Its own process group: Ctrl-C reaches the demo, which stops the server after its clean-up.
  const server = await RedisServer.start({ detached: true }).catch((err: Error) => {
    throw new NoRedisError(`${err.message}.`);
  });
  // Last resort: if the demo exits without stopping the server (an uncaught error), kill it synchronously.
  process.once('exit', killAll);
  const version = await pingVersion(server.url);
  return { url: server.url, how: `private redis-server ${version} on port ${server.port} (pid ${server.pid})`, private: true, stop: () => server.stop() };
};

const checkVersion = (version: string, where: string): void => {
  if (isTooOld(version)) throw new NoRedisError(`${where} runs Redis ${version}; the library needs ${MIN_VERSION.join('.')} or later (XPENDING IDLE).`);
};

/** Finds or starts a Redis, or throws `NoRedisError` with instructions. */
export const provideRedis = async (env: NodeJS.ProcessEnv = process.env, localUrl: string = LOCAL_URL): Promise<ProvidedRedis> => {
  const noop = async (): Promise<void> => undefined;
  const fromEnv = env.REDIS_URL;
  if (fromEnv) {
    const version = await pingVersion(fromEnv).catch((err: Error) => {
      throw new NoRedisError(`REDIS_URL=${fromEnv} does not answer PING (${err.message}).`);
    });
    checkVersion(version, `REDIS_URL=${fromEnv}`);
    return { url: fromEnv, how: `REDIS_URL=${fromEnv} (Redis ${version})`, private: false, stop: noop };
  }
  const localVersion = await answers(localUrl);
  if (localVersion !== undefined) {
    checkVersion(localVersion, localUrl);
    return { url: localUrl, how: `local Redis ${localVersion} at ${localUrl.replace('redis://', '')}`, private: false, stop: noop };
  }
  if (hasRedisServer()) return startPrivateServer();
  throw new NoRedisError(INSTALL_HELP);
};
