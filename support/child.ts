import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { onJsonLines, onLines, track } from './processes';
import { Command, ConsumerConfig, ConsumerEvent, EventName, EventOf, ReplyOf, asEvent, consumerName, replyTo, toEnv } from './protocol';
import { waitUntil } from './service';

const ROOT = join(__dirname, '..');
const PROGRAM = join(__dirname, 'consumer.ts');

export interface ChildOptions {
  /** Node flags before the program, e.g. --expose-gc */
  readonly nodeFlags?: readonly string[];
  /** each line the child writes on stderr (default: copied to this process's stderr) */
  readonly onStderr?: (line: string) => void;
  /** each line on its stdout that is not an event */
  readonly onStray?: (line: string) => void;
  /** the program to run instead of support/consumer.ts (e.g. support/go-twin.ts), speaking the same protocol */
  readonly program?: string;
  /** environment variables beside those of `config` */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * A consumer in a child process (support/consumer.ts, configured by `config`): the events it
 * printed, commands to its stdin, signals. Tracked, so `killAll` and the cleanup handlers end it;
 * it also exits by itself when this process dies (its stdin closes).
 */
export class ChildConsumer {
  readonly events: ConsumerEvent[] = [];
  readonly process: ChildProcess;
  readonly startedAt = Date.now();
  /** Resolves once the process exited and its output is read. */
  readonly closed: Promise<void>;
  exitedAt: number | undefined;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  private readonly listeners: ((e: ConsumerEvent) => void)[] = [];

  constructor(readonly config: ConsumerConfig, options: ChildOptions = {}) {
    this.process = track(
      spawn(process.execPath, [...(options.nodeFlags ?? []), '--require', 'tsx/cjs', options.program ?? PROGRAM], {
        env: { ...toEnv(config), ...options.env },
        stdio: ['pipe', 'pipe', options.onStderr === undefined ? 'inherit' : 'pipe'],
        cwd: ROOT,
      }),
    );
    onJsonLines(
      this.process.stdout!,
      (value, line) => {
        const event = asEvent(value);
        if (event === undefined) return options.onStray?.(line);
        this.events.push(event);
        for (const listener of this.listeners) listener(event);
      },
      options.onStray,
    );
    if (options.onStderr !== undefined) onLines(this.process.stderr!, options.onStderr);
    this.process.stdin!.on('error', () => undefined);
    this.closed = new Promise((resolve) => this.process.once('close', () => resolve()));
    this.process.once('exit', (code, signal) => {
      this.exitedAt = Date.now();
      this.exitCode = code;
      this.exitSignal = signal;
    });
  }

  get pid(): number {
    return this.process.pid!;
  }

  /** Its consumer id, `redis-consumer-<pod>`. */
  get name(): string {
    return consumerName(this.config);
  }

  get alive(): boolean {
    return this.exitedAt === undefined;
  }

  /** Calls `listener` with every event from now on. */
  onEvent(listener: (e: ConsumerEvent) => void): void {
    this.listeners.push(listener);
  }

  of<K extends EventName>(event: K): EventOf<K>[] {
    return this.events.filter((e): e is EventOf<K> => e.event === event);
  }

  /** Streams it holds now, by its own account: handed out or claimed, minus disowned or finished. */
  owned(): Set<string> {
    const owned = new Set<string>();
    for (const e of this.events) {
      if (e.event === 'added' || e.event === 'claimed') owned.add(e.stream);
      else if (e.event === 'disowned' || e.event === 'finished' || e.event === 'done-refused' || e.event === 'released' || e.event === 'rebalanced' || e.event === 'abandoned' || e.event === 'failed') owned.delete(e.stream);
    }
    return owned;
  }

  /** Resolves with its `count`-th event `event`; rejects after `timeoutMs`, or when it exits first. */
  async waitFor<K extends EventName>(event: K, { count = 1, timeoutMs = 15_000 } = {}): Promise<EventOf<K>> {
    await waitUntil(() => !this.alive || this.of(event).length >= count, timeoutMs, `${count} "${event}" from child ${this.pid} (have ${this.of(event).length})`, 5);
    const found = this.of(event)[count - 1];
    if (found === undefined) throw new Error(`child ${this.pid} exited before ${count} "${event}"`);
    return found;
  }

  /** Writes a command to its stdin. */
  send(command: Command): void {
    this.process.stdin!.write(`${JSON.stringify(command)}\n`);
  }

  /** Sends a command and resolves with its reply (the next event it is answered with). */
  async ask<C extends Command>(command: C, timeoutMs = 30_000): Promise<ReplyOf<C>> {
    const reply = replyTo(command)!;
    const before = this.of(reply).length;
    this.send(command);
    return (await this.waitFor(reply, { count: before + 1, timeoutMs })) as ReplyOf<C>;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.alive) this.process.kill(sig);
  }

  /** Resolves true once it exited, false after `timeoutMs`. */
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

  /** Resolves with its exit code once it exited; rejects after `timeoutMs`. */
  async exited(timeoutMs = 10_000): Promise<number | null> {
    if (!(await this.waitExit(timeoutMs))) throw new Error(`timed out after ${timeoutMs} ms waiting for child ${this.pid} to exit`);
    return this.exitCode;
  }

  /** SIGKILL (after SIGCONT, for a stopped one); resolves once it is gone and its output read. */
  async kill(): Promise<void> {
    if (this.alive) {
      this.process.kill('SIGCONT');
      this.process.kill('SIGKILL');
    }
    await this.closed;
  }

  /** Asks it to stop (unsubscribe, exit); SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.alive) return;
    this.send({ cmd: 'stop' });
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await this.closed;
    clearTimeout(timer);
  }
}
