/**
 * Exactly-once effects in PostgreSQL from a fleet of consumers that crash and stall: starts N
 * consumer processes (consumer.ts) of one service, adds M data streams and writes K entries into
 * each (the last one `type: end`) while SIGKILLing consumers (each replaced by a new process)
 * and SIGSTOPping others for 2.5 heartbeats; then checks that the effects table holds every entry
 * exactly once. Exit code 0 when it does, 1 when not.
 *
 *   npm run example:postgres -- [--consumers 3] [--streams 6] [--entries 150] [--entry-ms 40] [--faults 1200] [--timeout 60]
 *
 * Redis: REDIS_URL (default redis://127.0.0.1:6379). PostgreSQL: PG* variables, default
 * 127.0.0.1:5432, database `test`, user `postgres` (trust auth). Its tables and Redis keys are
 * removed at the end (`--keep` keeps the tables).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import Redis from 'ioredis';
import { Pool } from 'pg';
import { lastValueFrom } from 'rxjs';
import { addStream } from '../../lib';
import { audit, createTables, dropTables, pgConfig } from './store';

export interface ExampleOptions {
  readonly redisUrl: string;
  readonly consumers: number;
  readonly streams: number;
  readonly entriesPerStream: number;
  /** pause between two entries of one stream, ms */
  readonly entryMs: number;
  /** a fault (alternately SIGKILL and SIGSTOP of a random consumer) every this many ms while entries are written; 0: none */
  readonly faultEveryMs: number;
  readonly hbInterval: number;
  readonly timeoutMs: number;
  readonly keepTables?: boolean;
  readonly log?: (line: string) => void;
}

export interface ExampleResult {
  readonly ok: boolean;
  readonly expected: number;
  readonly rows: number;
  readonly duplicates: string[];
  readonly missing: string[];
  readonly kills: number;
  readonly stops: number;
  /** writes the table refused: a stale owner's (lower fence), an entry already applied */
  readonly refusedStale: number;
  readonly refusedRepeated: number;
  /** consumers that exited by themselves (a crash) */
  readonly crashed: string[];
  readonly seconds: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  ready: boolean;
  exited: boolean;
  stopped: boolean;
  killed: boolean;
}

/** Runs the example once; resolves what the table holds. */
export const runExample = async (options: ExampleOptions): Promise<ExampleResult> => {
  const log = options.log ?? ((line: string) => console.log(line));
  const started = Date.now();
  const tag = `${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const service = `pg-example-${tag}`;
  const prefix = `pg_example_${tag}`;
  const pool = new Pool({ ...pgConfig(), max: 2 });
  const redis = new Redis(options.redisUrl);
  redis.on('error', () => undefined);
  const procs: Proc[] = [];
  const tally = { stale: 0, repeated: 0, kills: 0, stops: 0 };
  let counter = 0;

  const startConsumer = (): Proc => {
    const name = `pg-${tag}-c${counter++}`;
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', join(__dirname, 'consumer.ts')], {
      cwd: join(__dirname, '..', '..'),
      env: { ...process.env, REDIS_URL: options.redisUrl, SERVICE: service, POD_NAME: name, TABLES: prefix, HB_INTERVAL: String(options.hbInterval) },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const proc: Proc = { name, child, ready: false, exited: false, stopped: false, killed: false };
    child.stdin!.on('error', () => undefined);
    child.once('exit', () => (proc.exited = true));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let e: Record<string, unknown>;
      try {
        e = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return log(`${name}: ${line}`);
      }
      if (e.event === 'ready') proc.ready = true;
      else if (e.event === 'write' && e.result === 'stale') tally.stale++;
      else if (e.event === 'write' && e.result === 'repeated') tally.repeated++;
      else if (e.event === 'error') log(`${name}: error ${String(e.message)}`);
    });
    procs.push(proc);
    return proc;
  };
  const live = (): Proc[] => procs.filter((p) => !p.exited);
  const waitReady = async (p: Proc): Promise<void> => {
    const deadline = Date.now() + 20_000;
    while (!p.ready) {
      if (p.exited || Date.now() > deadline) throw new Error(`consumer ${p.name} did not start`);
      await sleep(20);
    }
  };

  /** stream -> the ids of its entries, as XADD returned them */
  const expected = new Map<string, string[]>();
  try {
    await createTables(pool, prefix);
    for (let i = 0; i < options.consumers; i++) startConsumer();
    await Promise.all(procs.map(waitReady));
    log(`${options.consumers} consumers ready; ${options.streams} streams × ${options.entriesPerStream} entries, one entry per stream every ${options.entryMs} ms`);
    const names = Array.from({ length: options.streams }, (_, i) => `${service}:orders-${i}`);
    for (const name of names) expected.set(name, []);
    for (const name of names) await lastValueFrom(addStream(redis, service, { dataStreamName: name, info: {} }));

    let writing = true;
    const faults = (async () => {
      if (options.faultEveryMs <= 0) return;
      for (let k = 0; writing; k++) {
        await sleep(options.faultEveryMs);
        if (!writing) break;
        const candidates = live().filter((p) => !p.stopped);
        if (candidates.length < 2) continue;
        const victim = candidates[Math.floor(Math.random() * candidates.length)]!;
        if (k % 2 === 0) {
          victim.killed = true;
          victim.child.kill('SIGKILL');
          tally.kills++;
          log(`SIGKILL ${victim.name}; starting a replacement`);
          void waitReady(startConsumer()).catch((err: Error) => writing && log(err.message));
        } else {
          victim.child.kill('SIGSTOP');
          victim.stopped = true;
          tally.stops++;
          const ms = Math.round(2.5 * options.hbInterval);
          log(`SIGSTOP ${victim.name} for ${ms} ms`);
          void sleep(ms).then(() => {
            victim.child.kill('SIGCONT');
            victim.stopped = false;
          });
        }
      }
    })();
    for (let n = 0; n < options.entriesPerStream; n++) {
      const pipeline = redis.pipeline();
      for (const name of names) pipeline.xadd(name, '*', 'n', String(n), 'type', n === options.entriesPerStream - 1 ? 'end' : 'data');
      const replies = (await pipeline.exec()) ?? [];
      replies.forEach(([err, id], i) => {
        if (err) throw err;
        expected.get(names[i]!)!.push(id as string);
      });
      await sleep(options.entryMs);
    }
    writing = false;
    await faults;
    for (const p of procs) if (p.stopped) p.child.kill('SIGCONT');

    log('entries written; waiting for the fleet to finish every stream');
    const deadline = started + options.timeoutMs;
    let result = await audit(pool, prefix, expected);
    while (Date.now() < deadline && result.rows < result.expected) {
      await sleep(250);
      result = await audit(pool, prefix, expected);
    }
    await sleep(500); // a stale owner's late write, if any, would land now
    result = await audit(pool, prefix, expected);
    const crashed = procs.filter((p) => p.exited && !p.killed).map((p) => p.name);
    const ok = result.duplicates.length === 0 && result.missing.length === 0 && crashed.length === 0;
    const seconds = (Date.now() - started) / 1000;
    log(
      `${ok ? 'OK' : 'FAILED'}: ${result.rows} rows for ${result.expected} entries; applied twice ${result.duplicates.length}, missing ${result.missing.length}; ` +
        `${tally.kills} SIGKILL, ${tally.stops} SIGSTOP${crashed.length > 0 ? `, ${crashed.length} consumer(s) crashed` : ''}; writes refused: ${tally.stale} stale (lower fence), ${tally.repeated} already applied; ${seconds.toFixed(1)} s`,
    );
    for (const d of result.duplicates.slice(0, 5)) log(`  applied twice: ${d}`);
    for (const m of result.missing.slice(0, 5)) log(`  missing: ${m}`);
    return { ok, ...result, kills: tally.kills, stops: tally.stops, refusedStale: tally.stale, refusedRepeated: tally.repeated, crashed, seconds };
  } finally {
    for (const p of live()) {
      p.child.kill('SIGCONT');
      p.child.kill('SIGTERM');
    }
    await sleep(300);
    for (const p of live()) p.child.kill('SIGKILL');
    if (!options.keepTables) await dropTables(pool, prefix).catch(() => undefined);
    await pool.end();
    const keys = await redis.keys(`${service}*`).catch(() => [] as string[]);
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500)).catch(() => undefined);
    redis.disconnect();
  }
};

if (require.main === module) {
  const { values } = parseArgs({
    options: {
      consumers: { type: 'string', default: '3' },
      streams: { type: 'string', default: '6' },
      entries: { type: 'string', default: '150' },
      'entry-ms': { type: 'string', default: '40' },
      faults: { type: 'string', default: '1200' },
      timeout: { type: 'string', default: '60' },
      keep: { type: 'boolean', default: false },
    },
  });
  runExample({
    redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    consumers: Number(values.consumers),
    streams: Number(values.streams),
    entriesPerStream: Number(values.entries),
    entryMs: Number(values['entry-ms']),
    faultEveryMs: Number(values.faults),
    hbInterval: 1000,
    timeoutMs: Number(values.timeout) * 1000,
    keepTables: values.keep,
  }).then(
    (r) => process.exit(r.ok ? 0 : 1),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(2);
    },
  );
}
