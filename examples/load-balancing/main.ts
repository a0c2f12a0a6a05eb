/**
 * Load balancing across processes: starts N consumer processes (consumer.ts) of one service and,
 * once they all read the service's load-balancer stream, one producer process (producer.ts) that
 * adds M data streams. Prints which consumer got which stream, and when all M are processed stops
 * the consumers (SIGTERM: `client.done()`), deletes the service's keys and shows the spread.
 *
 * Run it with `npm run example:load-balancing` (`-- --help` lists the flags); Redis from REDIS_URL,
 * default redis://127.0.0.1:6379. It ends by itself; Ctrl-C stops it early. Children never outlive it.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import Redis from 'ioredis';
import { deadLetterKey, lbsKey } from '../../lib';
import { Message, isMessage } from './protocol';

const USAGE = `Usage: npm run example:load-balancing -- [flags]

  --consumers N     consumer processes (default 3)
  --streams M       data streams the producer adds (default 9)
  --concurrency C   streams each consumer works on at once (default 2)
  --work-ms MS      time a consumer spends on one stream (default 1000)
  --interval-ms MS  pause of the producer between two streams (default 200)
  --timeout S       give up after S seconds (default 60)
  --help            this text

Redis: REDIS_URL (default redis://127.0.0.1:6379).`;

const ROOT = join(__dirname, '..', '..');
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function parseFlags() {
  const { values } = parseArgs({
    options: {
      consumers: { type: 'string', default: '3' },
      streams: { type: 'string', default: '9' },
      concurrency: { type: 'string', default: '2' },
      'work-ms': { type: 'string', default: '1000' },
      'interval-ms': { type: 'string', default: '200' },
      timeout: { type: 'string', default: '60' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (flag: keyof typeof values): number => {
    const n = Number(values[flag]);
    if (!Number.isInteger(n) || n < 1) {
      console.error(`--${flag} must be a positive integer (got ${JSON.stringify(values[flag])})\n\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  return {
    consumers: int('consumers'),
    streams: int('streams'),
    concurrency: int('concurrency'),
    workMs: int('work-ms'),
    intervalMs: int('interval-ms'),
    timeoutMs: int('timeout') * 1000,
  };
}

let flags: ReturnType<typeof parseFlags>;
try {
  flags = parseFlags();
} catch (err) {
  // parseArgs refuses unknown flags and flags without their value.
  console.error(`${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}

/** Unique per run, so runs never see each other's streams; its keys are deleted at the end. */
const service = `lb-example-${Date.now().toString(36)}-${process.pid}`;
const started = Date.now();
const short = (stream: string) => (stream.startsWith(`${service}:`) ? stream.slice(service.length + 1) : stream);
const log = (who: string, text: string) => console.log(`+${((Date.now() - started) / 1000).toFixed(2).padStart(5)}s  ${who.padEnd(11)} ${text}`);

interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  /** Set once main asked it to stop (or, for the producer, once it said it is done). */
  expectExit: boolean;
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<number | string>;
}

const children: Child[] = [];

/** Every child still running. */
const live = () => children.filter((c) => c.process.exitCode === null && c.process.signalCode === null);

// However main ends (done, error, Ctrl-C, an exception), no child outlives it.
process.on('exit', () => {
  for (const c of live()) c.process.kill('SIGKILL');
});

function spawnChild(name: string, file: string, env: Record<string, string>, onMessage: (m: Message) => void, onUnexpectedExit: (why: string) => void): Child {
  const proc = spawn(process.execPath, ['--require', 'tsx/cjs', join(__dirname, file)], {
    cwd: ROOT,
    env: { ...process.env, REDIS_URL: redisUrl, SERVICE: service, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const child: Child = {
    name,
    process: proc,
    expectExit: false,
    exited: new Promise((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'))),
  };
  proc.on('message', (m: unknown) => isMessage(m) && onMessage(m));
  for (const out of [proc.stdout!, proc.stderr!]) createInterface({ input: out }).on('line', (line) => line.trim() && log(name, `| ${line}`));
  void child.exited.then((how) => {
    // The producer exits by itself once it has added its streams (code 0); a consumer only when told.
    if (!child.expectExit && !(name === 'producer' && how === 0)) onUnexpectedExit(`${name} exited on its own (${how})`);
  });
  children.push(child);
  return child;
}

/**
 * Deletes every key of this run's service: `<service>-input` (the LBS, with its consumer group),
 * `<service>-dead` and the client's other `<service>-…` keys, and the data streams
 * `<service>:order-<n>` with any lock left (lock keys begin with the data stream's name).
 */
async function deleteServiceKeys(redis: Redis): Promise<number> {
  const keys = new Set([lbsKey(service), deadLetterKey(service)]);
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${service}[-:]*`, 'COUNT', 1000);
    for (const key of batch) keys.add(key);
    cursor = next;
  } while (cursor !== '0');
  return redis.del(...keys);
}

async function main(): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectionName: 'lb-example-main' });
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => (lastError = err));
  try {
    await redis.connect();
  } catch (err) {
    console.error(`Redis is not reachable at ${redisUrl} (${(lastError ?? (err as Error)).message}).\nStart one (redis-server) or set REDIS_URL.`);
    return 1;
  }

  console.log(
    `service ${service}: ${flags.consumers} consumers (concurrency ${flags.concurrency}, ${flags.workMs} ms a stream), ` +
      `${flags.streams} streams, Redis ${redisUrl}\n`,
  );

  const owner = new Map<string, string>(); // stream -> consumer that processed it
  const processedBy = new Map<string, string[]>(); // consumer -> streams
  let duplicates = 0;
  let fail: (why: string) => void = () => undefined;
  let allProcessed: () => void = () => undefined;
  const outcome = new Promise<void>((resolve, reject) => {
    allProcessed = resolve;
    fail = (why) => reject(new Error(why));
  });
  const timeout = setTimeout(() => fail(`timed out after ${flags.timeoutMs / 1000} s`), flags.timeoutMs);
  const interrupted = (signal: string) => fail(`interrupted (${signal})`);
  process.once('SIGINT', () => interrupted('SIGINT'));
  process.once('SIGTERM', () => interrupted('SIGTERM'));

  const ready = new Set<string>();
  let everyoneIsReady: () => void = () => undefined;
  const everyoneReady = new Promise<void>((resolve) => (everyoneIsReady = resolve));

  const onMessage = (from: string) => (m: Message) => {
    switch (m.type) {
      case 'ready':
        ready.add(m.consumer);
        if (ready.size === flags.consumers) everyoneIsReady();
        return log(m.consumer, 'ready: reading the LBS');
      case 'added':
        return log(from, `added   ${short(m.stream)} (${m.entries} entries) as LBS entry ${m.id}`);
      case 'produced':
        children.find((c) => c.name === from)!.expectExit = true;
        return log(from, `added all ${m.count} streams; exiting`);
      case 'got':
        return log(m.consumer, m.via === 'StreamAdded' ? `got     ${short(m.stream)}` : `claimed ${short(m.stream)} (its owner's lock expired)`);
      case 'outcome': {
        if (m.outcome !== 'Processed') {
          return log(m.consumer, `${m.outcome.toLowerCase().padEnd(7)} ${short(m.stream)}${m.error ? `: ${m.error}` : ''}`);
        }
        log(m.consumer, `done    ${short(m.stream)} (${m.entries ?? '?'} entries in ${((m.ms ?? 0) / 1000).toFixed(2)} s)`);
        if (owner.has(m.stream)) duplicates++;
        owner.set(m.stream, m.consumer);
        processedBy.set(m.consumer, [...(processedBy.get(m.consumer) ?? []), short(m.stream)]);
        if (owner.size === flags.streams) allProcessed();
        return;
      }
      case 'stopped':
        return log(m.consumer, 'stopped (client.done() completed)');
    }
  };

  const consumers = Array.from({ length: flags.consumers }, (_, i) => `consumer-${i + 1}`);
  for (const name of consumers) {
    const child = spawnChild(
      name,
      'consumer.ts',
      { CONSUMER_ID: name, CONCURRENCY: String(flags.concurrency), WORK_MS: String(flags.workMs) },
      onMessage(name),
      (why) => {
        // A consumer that dies (try `kill -9 <pid>`) keeps its streams until their locks expire
        // (hbInterval, 2 s); then the others hear StreamExpired and one of them claims each.
        if (!ready.has(name)) return fail(`${why} before it was ready`);
        if (!live().some((c) => c.name.startsWith('consumer-'))) return fail(`${why}; no consumer left`);
        log(name, `${why.slice(name.length + 1)}; the others will claim its streams once its locks expire`);
      },
    );
    log(name, `started, pid ${child.process.pid}`);
  }

  let code = 0;
  try {
    // Start the producer once every consumer has started, so that each of them is waiting in
    // XREADGROUP when the first stream arrives: a consumer still starting would get no share of
    // the first streams (nothing would be lost: the group is created from the LBS's start).
    await Promise.race([outcome, everyoneReady]);
    log('main', `all ${consumers.length} consumers read ${lbsKey(service)}; starting the producer`);
    spawnChild(
      'producer',
      'producer.ts',
      { STREAMS: String(flags.streams), INTERVAL_MS: String(flags.intervalMs) },
      onMessage('producer'),
      (why) => fail(why),
    );
    await outcome;
    log('main', `all ${flags.streams} streams processed in ${((Date.now() - started) / 1000).toFixed(2)} s; SIGTERM to the consumers`);
  } catch (err) {
    console.error(`\nstopping: ${(err as Error).message}`);
    code = (err as Error).message.startsWith('interrupted') ? 130 : 1;
  }
  clearTimeout(timeout);

  // SIGTERM: each consumer calls client.done() and exits; SIGKILL any still running after 10 s.
  const running = live();
  for (const c of running) {
    c.expectExit = true;
    c.process.kill('SIGTERM');
  }
  const grace = new Promise((resolve) => setTimeout(resolve, 10_000).unref());
  await Promise.race([Promise.all(running.map((c) => c.exited)), grace]);
  for (const c of live()) {
    log(c.name, 'did not exit within 10 s; SIGKILL');
    c.process.kill('SIGKILL');
  }

  const deleted = await deleteServiceKeys(redis).catch((err: Error) => {
    console.error(`could not delete the keys of ${service}: ${err.message}`);
    return 0;
  });
  await redis.quit().catch(() => undefined);

  console.log(`\nspread of ${owner.size} of ${flags.streams} streams over ${consumers.length} consumers:`);
  for (const name of consumers) {
    const streams = processedBy.get(name) ?? [];
    console.log(`  ${name.padEnd(11)} ${String(streams.length).padStart(3)}  ${'#'.repeat(streams.length).padEnd(flags.streams)}  ${streams.join(', ')}`);
  }
  if (duplicates > 0) console.log(`  (${duplicates} stream(s) processed twice: a consumer lost its lock while working)`);
  console.log(`\ndeleted the ${deleted} keys of ${service} (${lbsKey(service)}, ${deadLetterKey(service)}, the data streams...)`);
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err);
    process.exit(1);
  },
);
