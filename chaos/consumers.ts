import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { ConsumerEvent } from './events';
import { onLines, track } from '../support/processes';

const FIXTURE = join(__dirname, 'consumer.ts');

export interface ConsumerEnv {
  readonly REDIS_URL: string;
  readonly SERVICE: string;
  readonly POD_NAME: string;
  readonly HB_INTERVAL: string;
  readonly WORK_MIN_MS: string;
  readonly WORK_MAX_MS: string;
  readonly BLOCK_MS: string;
  readonly LBS_IDLE_TIME?: string;
  readonly START_ON_SIGNAL?: string;
}

/** One chaos consumer (chaos/consumer.ts) in a child process, with the events it printed. */
export class ConsumerProc {
  readonly events: ConsumerEvent[] = [];
  readonly process: ChildProcess;
  readonly startedAt = Date.now();
  exitedAt: number | undefined;
  exitSignal: string | null = null;
  exitCode: number | null = null;
  /** the driver ended it (kill, SIGTERM at teardown); otherwise its exit is a crash */
  endedByDriver = false;
  readonly stderr: string[] = [];

  constructor(readonly index: number, readonly env: ConsumerEnv) {
    this.process = track(
      spawn(process.execPath, ['--require', 'tsx/cjs', FIXTURE], {
        env: { ...process.env, ...env },
        stdio: ['pipe', 'pipe', 'pipe'],
        cwd: join(__dirname, '..'),
      }),
    );
    onLines(this.process.stdout!, (line) => {
      try {
        this.events.push(JSON.parse(line) as ConsumerEvent);
      } catch {
        this.stderr.push(`unparsable stdout line: ${line.slice(0, 200)}`);
      }
    });
    this.process.stderr!.on('data', (chunk: Buffer) => {
      if (this.stderr.length < 50) this.stderr.push(chunk.toString().slice(0, 2000));
    });
    this.process.stdin!.on('error', () => undefined);
    this.process.once('exit', (code, signal) => {
      this.exitedAt = Date.now();
      this.exitSignal = signal;
      this.exitCode = code;
    });
  }

  get pid(): number {
    return this.process.pid!;
  }

  get name(): string {
    return `redis-consumer-${this.env.POD_NAME}`;
  }

  get alive(): boolean {
    return this.exitedAt === undefined;
  }

  of(ev: ConsumerEvent['ev']): ConsumerEvent[] {
    return this.events.filter((e) => e.ev === ev);
  }

  /** LBS ids whose window is open now (started, not yet finished/abandoned/failed). */
  openWindows(): Map<string, ConsumerEvent> {
    const open = new Map<string, ConsumerEvent>();
    if (!this.alive) return open;
    for (const e of this.events) {
      if (e.ev === 'started') open.set(e.id!, e);
      else if (e.ev === 'finished' || e.ev === 'abandoned' || e.ev === 'failed') open.delete(e.id!);
    }
    return open;
  }

  signal(sig: NodeJS.Signals): void {
    if (sig === 'SIGKILL' || sig === 'SIGTERM') this.endedByDriver = true;
    if (this.alive) this.process.kill(sig);
  }

  async waitExit(timeoutMs: number): Promise<boolean> {
    if (!this.alive) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.process.once('exit', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** SIGKILL (after SIGCONT, for a stopped one); resolves when it is gone. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    this.endedByDriver = true;
    const gone = this.waitExit(5000);
    this.process.kill('SIGCONT');
    this.process.kill('SIGKILL');
    await gone;
  }
}
