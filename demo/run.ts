/**
 * `npm run demo`: the showcase of redis-stream-client-rx.
 *
 * Finds (or starts) a Redis, runs a fleet of consumers in child processes, adds data streams,
 * SIGKILLs the busiest consumer and measures how fast its streams fail over, SIGSTOPs another
 * one past its lock TTL and shows it being told it was disowned, lets the work finish, checks in
 * Redis that nothing was lost, removes everything it created and prints a summary.
 * Exit code: 0 nothing lost, 1 something lost or no Redis, 2 bad flags, 130 interrupted.
 *
 * Files: flags.ts (CLI), redis-provider.ts (which Redis), fleet.ts + support/consumer.ts (the child
 * processes), state.ts (what is known), scenario.ts (the script), view.ts (the screen),
 * redis-check.ts + summary.ts (the verdict).
 */
import Redis from 'ioredis';
import { cleanup } from '../support/service';
import { DemoFlags, HELP, parseFlags } from './flags';
import { Fleet } from './fleet';
import { RedisCheck, inspectService } from './redis-check';
import { NoRedisError, ProvidedRedis, provideRedis } from './redis-provider';
import { ScenarioReport, runScenario } from './scenario';
import { DemoState } from './state';
import { summarize } from './summary';
import { createView, terminalPaint } from './view';
import { Interrupted } from './wait';

/** After the first Ctrl-C, the clean-up gets this long before the demo exits anyway. */
const CLEANUP_GRACE_MS = 8000;

/** Aborts on SIGINT / SIGTERM / SIGHUP (npm forwards Ctrl-C too, so a repeat is expected and ignored). */
const trapSignals = (): AbortController => {
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (abort.signal.aborted) return;
    abort.abort(signal);
    setTimeout(() => process.exit(130), CLEANUP_GRACE_MS).unref();
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  return abort;
};

/** Resolves `undefined` if `promise` takes longer than `ms` or fails. */
const within = <T>(promise: Promise<T>, ms: number): Promise<T | undefined> =>
  Promise.race([promise.catch(() => undefined), new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref())]);

const connect = (url: string): Redis => {
  const redis = new Redis(url, { maxRetriesPerRequest: 2, connectionName: 'demo-runner' });
  redis.on('error', () => undefined);
  return redis;
};

const describeError = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** After the consumers are gone: checks what is left in Redis, deletes the demo's keys, stops a private server. */
async function cleanUp(admin: Redis, service: string, provided: ProvidedRedis): Promise<{ check?: RedisCheck; keysRemoved?: number }> {
  const check = await within(inspectService(admin, service), 3000);
  const keysRemoved = await within(cleanup(admin, service), 3000);
  admin.disconnect();
  await provided.stop();
  return { check, keysRemoved };
}

/** Runs the script and the clean-up; returns the exit code. */
async function runDemo(flags: DemoFlags, provided: ProvidedRedis, abort: AbortController): Promise<number> {
  const service = `demo-${Date.now()}`;
  const admin = connect(provided.url);
  const state = new DemoState(service, flags.consumers);
  const fleet = new Fleet(state, { redisUrl: provided.url, service, heartbeatMs: flags.heartbeatMs, workMs: flags.workMs });
  const view = createView(state, { redis: provided.how, heartbeatMs: flags.heartbeatMs });
  const report: ScenarioReport = { finished: false };
  let interruptedBy: string | undefined;
  view.start();
  try {
    await runScenario({ state, fleet, admin, flags, signal: abort.signal }, report);
    state.enterPhase('stopping the consumers (SIGTERM: each calls client.done())');
    await fleet.stopAll();
  } catch (err) {
    interruptedBy = err instanceof Interrupted ? err.signal : undefined;
    state.enterPhase(interruptedBy !== undefined ? `${interruptedBy}: stopping everything` : `demo failed: ${describeError(err)}`);
  } finally {
    fleet.killAll();
  }
  const { check, keysRemoved } = await cleanUp(admin, service, provided);
  view.stop();
  const summary = summarize({ state, report, check, redis: provided.how, keysRemoved, interruptedBy }, terminalPaint());
  process.stdout.write(`${summary.lines.join('\n')}\n`);
  if (interruptedBy !== undefined) return 130;
  return summary.ok ? 0 : 1;
}

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseFlags(argv);
  if (parsed.kind === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (parsed.kind === 'invalid') {
    process.stderr.write(`demo: ${parsed.message}\nRun "npm run demo -- --help" to see the flags.\n`);
    return 2;
  }
  const abort = trapSignals();
  let provided: ProvidedRedis;
  try {
    provided = await provideRedis();
  } catch (err) {
    process.stderr.write(`demo: ${err instanceof NoRedisError ? err.message : `could not reach Redis: ${describeError(err)}`}\n`);
    return 1;
  }
  return runDemo(parsed.flags, provided, abort);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo: unexpected failure: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
