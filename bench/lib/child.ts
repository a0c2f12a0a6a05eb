import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { onLines, track } from '../../support/processes';
import { waitOrThrow } from './stats';

export interface ChildEvent {
  readonly event: string;
  readonly at: number;
  readonly stream?: string;
  readonly id?: string;
  readonly [key: string]: unknown;
}

const FIXTURE = join(__dirname, '..', 'fixtures', 'consumer.ts');

export interface ChildEnv {
  REDIS_URL: string;
  SERVICE: string;
  POD_NAME: string;
  ROLE: 'claimer' | 'holder' | 'churn';
  READ_COUNT?: string;
  HB_INTERVAL?: string;
  LBS_IDLE_TIME?: string;
  TARGET?: string;
  CHURN_PREFIX?: string;
  CHURN_HOLD_MS?: string;
}

/** A consumer in a child process (bench/fixtures/consumer.ts): events from its stdout, commands to its stdin. */
export class ChildConsumer {
  readonly events: ChildEvent[] = [];
  readonly process: ChildProcess;
  exited = false;
  private listeners: ((e: ChildEvent) => void)[] = [];

  constructor(env: ChildEnv, nodeFlags: string[] = []) {
    this.process = track(
      spawn(process.execPath, [...nodeFlags, '--require', 'tsx/cjs', FIXTURE], {
        env: { ...process.env, ...env },
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    );
    onLines(this.process.stdout!, (line) => {
      const event = JSON.parse(line) as ChildEvent;
      this.events.push(event);
      for (const listener of this.listeners) listener(event);
    });
    this.process.stdin!.on('error', () => undefined);
    this.process.once('exit', () => (this.exited = true));
  }

  get pid(): number {
    return this.process.pid!;
  }

  /** Calls `listener` for every event from now on. */
  onEvent(listener: (e: ChildEvent) => void): void {
    this.listeners.push(listener);
  }

  of(event: string): ChildEvent[] {
    return this.events.filter((e) => e.event === event);
  }

  async waitFor(event: string, timeoutMs: number): Promise<ChildEvent> {
    await waitOrThrow(() => this.exited || this.of(event).length > 0, timeoutMs, `"${event}" from child ${this.pid}`);
    const found = this.of(event)[0];
    if (found === undefined) throw new Error(`child ${this.pid} exited before "${event}"`);
    return found;
  }

  /** Sends a command and waits for the next event named `reply`. */
  async ask(command: object, reply: string, timeoutMs: number): Promise<ChildEvent> {
    const before = this.of(reply).length;
    this.process.stdin!.write(`${JSON.stringify(command)}\n`);
    await waitOrThrow(() => this.exited || this.of(reply).length > before, timeoutMs, `"${reply}" from child ${this.pid}`);
    const found = this.of(reply)[before];
    if (found === undefined) throw new Error(`child ${this.pid} exited before "${reply}"`);
    return found;
  }

  /** SIGKILL; resolves when the process is gone. */
  async kill(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((resolve) => this.process.once('exit', resolve));
    this.process.kill('SIGKILL');
    await gone;
  }

  /** Asks it to stop (unsubscribe, exit); SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((resolve) => this.process.once('exit', resolve));
    this.process.stdin!.write(`${JSON.stringify({ cmd: 'stop' })}\n`);
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
}
