import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { waitUntil } from './fixtures';
import { onLines } from '../../support/processes';

export interface ChildEvent {
  readonly event: string;
  readonly stream?: string;
  readonly id?: string;
  readonly code?: string;
  readonly at: number;
  readonly info?: Record<string, unknown>;
}

const FIXTURE = join(__dirname, '..', 'fixtures', 'consumer-process.ts');

/** A consumer running in a child process (spec/fixtures/consumer-process.ts), to kill or pause for real. */
export class ChildConsumer {
  readonly events: ChildEvent[] = [];
  readonly process: ChildProcess;
  exitCode: number | null | undefined;

  constructor(env: { REDIS_URL: string; SERVICE: string; POD_NAME: string; HB_INTERVAL?: string; LBS_IDLE_TIME?: string }) {
    this.process = spawn(process.execPath, ['--require', 'tsx/cjs', FIXTURE], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    onLines(this.process.stdout!, (line) => this.events.push(JSON.parse(line) as ChildEvent));
    this.process.on('exit', (code) => (this.exitCode = code));
  }

  of(event: string): ChildEvent[] {
    return this.events.filter((e) => e.event === event);
  }

  /** Streams this consumer holds now, by its own account (added or claimed, minus disowned). */
  owned(): Set<string> {
    const owned = new Set<string>();
    for (const e of this.events) {
      if (e.event === 'StreamAdded' || e.event === 'claimed') owned.add(e.stream!);
      if (e.event === 'StreamDisowned') owned.delete(e.stream!);
    }
    return owned;
  }

  async waitFor(event: string, count = 1, timeoutMs = 15_000): Promise<void> {
    await waitUntil(() => this.of(event).length >= count, timeoutMs, `${count} "${event}" from child ${this.process.pid} (have ${this.of(event).length})`);
  }

  signal(sig: NodeJS.Signals): void {
    this.process.kill(sig);
  }

  async exited(timeoutMs = 10_000): Promise<number | null> {
    await waitUntil(() => this.exitCode !== undefined, timeoutMs, `child ${this.process.pid} to exit`);
    return this.exitCode!;
  }

  kill(): void {
    if (this.exitCode === undefined) {
      this.process.kill('SIGCONT');
      this.process.kill('SIGKILL');
    }
  }
}
