/**
 * The consumer child processes: spawns them (support/consumer.ts under tsx, configured as the
 * demo's consumer below), feeds the JSON lines they print into the DemoState, and kills, pauses,
 * resumes or stops them. Every child it started is killed when the runner exits, however it exits.
 */
import { ChildConsumer } from '../support/child';
import type { ConsumerRow, DemoState } from './state';

export interface FleetOptions {
  readonly redisUrl: string;
  readonly service: string;
  readonly heartbeatMs: number;
  readonly workMs: { readonly min: number; readonly max: number };
}

interface Child {
  readonly row: ConsumerRow;
  readonly consumer: ChildConsumer;
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

  /**
   * A demo consumer: it "processes" every stream it is handed or claims (steps of 250 ms,
   * `workMs` in all), then calls doneStream; it claims every StreamExpired it hears and drops the
   * work of a stream it is told it no longer owns (StreamDisowned). SIGTERM: client.done().
   */
  private spawn(row: ConsumerRow): Child {
    const { redisUrl, service, heartbeatMs, workMs } = this.options;
    const consumer = new ChildConsumer(
      { redisUrl, service, pod: row.pod, hbInterval: heartbeatMs, claim: true, work: 'steps', workMinMs: workMs.min, workMaxMs: workMs.max, ticks: true, exitOnError: true },
      {
        onStderr: (line) => this.state.note(row.pod, `stderr: ${line}`, 'bad'),
        onStray: (line) => this.state.note(row.pod, `stdout: ${line}`, 'dim'),
      },
    );
    row.pid = consumer.pid;
    consumer.onEvent((event) => this.state.apply(row, event));
    consumer.process.once('exit', (code, signal) => this.onExit(row, code, signal));
    return { row, consumer };
  }

  private onExit(row: ConsumerRow, code: number | null, signal: NodeJS.Signals | null): void {
    if (row.state === 'killed' || row.state === 'stopped') return;
    const expected = row.state === 'stopping';
    row.state = expected ? 'stopped' : 'exited';
    if (!expected) this.state.note(row.pod, `exited on its own (${signal ?? `code ${code}`})`, 'bad');
  }

  private child(row: ConsumerRow): ChildConsumer {
    const child = this.children.find((c) => c.row === row);
    if (child === undefined) throw new Error(`${row.pod} was not started`);
    return child.consumer;
  }

  /** SIGKILL: the consumer dies at once, holding its locks until they expire. Resolves once its output is read. */
  kill(row: ConsumerRow): Promise<void> {
    row.state = 'killed';
    return this.child(row).kill();
  }

  /** SIGSTOP: the consumer freezes (as in a long GC pause or a stopped VM); its heartbeat stops. */
  pause(row: ConsumerRow): void {
    row.state = 'paused';
    this.child(row).signal('SIGSTOP');
  }

  resume(row: ConsumerRow): void {
    row.state = 'running';
    this.child(row).signal('SIGCONT');
  }

  /** SIGTERM to every live consumer (they call client.done() and exit); SIGKILL to any still alive after `graceMs`. */
  async stopAll(graceMs = 5000): Promise<void> {
    const live = this.children.filter((c) => c.consumer.alive);
    for (const c of live) {
      c.row.state = 'stopping';
      c.consumer.signal('SIGCONT');
      c.consumer.signal('SIGTERM');
    }
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([Promise.all(live.map((c) => c.consumer.closed)), timeout]);
    this.killAll();
  }

  /** Kills every child still alive, synchronously (also used on exit and Ctrl-C). */
  killAll(): void {
    for (const c of this.children) {
      if (!c.consumer.alive) continue;
      void c.consumer.kill();
      if (c.row.state !== 'stopped') c.row.state = 'killed';
    }
  }
}
