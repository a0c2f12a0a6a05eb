/**
 * The consumer child processes: spawns them (demo/consumer.ts under tsx), feeds the JSON lines
 * they print into the DemoState, and kills, pauses, resumes or stops them. Every child it
 * started is killed when the runner exits, however it exits.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseEvent } from './protocol';
import type { ConsumerRow, DemoState } from './state';

const ROOT = join(__dirname, '..');
const CONSUMER = join(__dirname, 'consumer.ts');

export interface FleetOptions {
  readonly redisUrl: string;
  readonly service: string;
  readonly heartbeatMs: number;
  readonly workMs: { readonly min: number; readonly max: number };
}

interface Child {
  readonly row: ConsumerRow;
  readonly process: ChildProcess;
  /** Resolves when the process has exited and its stdout is fully read. */
  readonly closed: Promise<void>;
}

export class Fleet {
  private readonly children: Child[] = [];

  constructor(private readonly state: DemoState, private readonly options: FleetOptions) {
    process.on('exit', () => this.killAll());
  }

  /** Spawns one child per row of the state. */
  start(): void {
    for (const row of this.state.rows) this.children.push(this.spawn(row));
  }

  private spawn(row: ConsumerRow): Child {
    const env = {
      ...process.env,
      REDIS_URL: this.options.redisUrl,
      SERVICE: this.options.service,
      POD_NAME: row.pod,
      HB_INTERVAL: String(this.options.heartbeatMs),
      WORK_MIN_MS: String(this.options.workMs.min),
      WORK_MAX_MS: String(this.options.workMs.max),
    };
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', CONSUMER], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    row.pid = child.pid;
    createInterface({ input: child.stdout! }).on('line', (line) => this.onLine(row, line));
    createInterface({ input: child.stderr! }).on('line', (line) => line.trim() && this.state.note(row.pod, `stderr: ${line}`, 'bad'));
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.once('exit', (code, signal) => this.onExit(row, code, signal));
    return { row, process: child, closed };
  }

  private onLine(row: ConsumerRow, line: string): void {
    const event = parseEvent(line);
    if (event !== undefined) this.state.apply(row, event);
    else if (line.trim()) this.state.note(row.pod, `stdout: ${line}`, 'dim');
  }

  private onExit(row: ConsumerRow, code: number | null, signal: NodeJS.Signals | null): void {
    if (row.state === 'killed' || row.state === 'stopped') return;
    const expected = row.state === 'stopping';
    row.state = expected ? 'stopped' : 'exited';
    if (!expected) this.state.note(row.pod, `exited on its own (${signal ?? `code ${code}`})`, 'bad');
  }

  private child(row: ConsumerRow): Child {
    const child = this.children.find((c) => c.row === row);
    if (child === undefined) throw new Error(`${row.pod} was not started`);
    return child;
  }

  /** SIGKILL: the consumer dies at once, holding its locks until they expire. Resolves once its output is read. */
  kill(row: ConsumerRow): Promise<void> {
    row.state = 'killed';
    this.child(row).process.kill('SIGKILL');
    return this.child(row).closed;
  }

  /** SIGSTOP: the consumer freezes (as in a long GC pause or a stopped VM); its heartbeat stops. */
  pause(row: ConsumerRow): void {
    row.state = 'paused';
    this.child(row).process.kill('SIGSTOP');
  }

  resume(row: ConsumerRow): void {
    row.state = 'running';
    this.child(row).process.kill('SIGCONT');
  }

  /** SIGTERM to every live consumer (they call client.done() and exit); SIGKILL to any still alive after `graceMs`. */
  async stopAll(graceMs = 5000): Promise<void> {
    const live = this.children.filter((c) => isAlive(c.process));
    for (const c of live) {
      c.row.state = 'stopping';
      c.process.kill('SIGCONT');
      c.process.kill('SIGTERM');
    }
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([Promise.all(live.map((c) => c.closed)), timeout]);
    this.killAll();
  }

  /** Kills every child still alive, synchronously (also used on exit and Ctrl-C). */
  killAll(): void {
    for (const c of this.children) {
      if (!isAlive(c.process)) continue;
      c.process.kill('SIGCONT');
      c.process.kill('SIGKILL');
      if (c.row.state !== 'stopped') c.row.state = 'killed';
    }
  }
}

const isAlive = (p: ChildProcess): boolean => p.exitCode === null && p.signalCode === null;
