import { ChildConsumer } from '../support/child';
import type { EventOf } from '../support/protocol';
import { endsWindow } from './checks';

/** What differs between the consumers of a run. */
export interface ChaosConsumerSettings {
  readonly redisUrl: string;
  readonly service: string;
  readonly pod: string;
  readonly hbInterval: number;
  readonly workMinMs: number;
  readonly workMaxMs: number;
  /** consumeStream: the work of one entry, and commitEvery; without entryMs the work is one timer of workMinMs..workMaxMs (no data stream read) */
  readonly entryMs?: number;
  readonly commitEntries?: number;
  readonly commitMs?: number;
  readonly blockMs: number;
  /** loads, then waits for SIGUSR1 to start its client */
  readonly startOnSignal?: boolean;
  /** the client's `rebalance` option (undefined: its default) */
  readonly rebalance?: 'true' | 'false' | 'consumed';
}

/**
 * One chaos consumer in a child process: support/consumer.ts running
 * `client.init().pipe(claimExpired(client), processStreams(client, handler))`, the handler
 * `consumeStream` over the data stream, each entry a timer of simulated work, done after the entry
 * with `type: end`; SIGTERM hands its streams back (`shutdown()`).
 */
export class ConsumerProc extends ChildConsumer {
  /** the driver ended it (kill, SIGTERM at teardown); otherwise its exit is a crash */
  endedByDriver = false;
  /** its stderr (the first 50 lines) and any stdout line that is not an event */
  readonly stderr: string[];

  constructor(readonly index: number, settings: ChaosConsumerSettings) {
    const stderr: string[] = [];
    super(
      { ...settings, claim: true, process: 'operators', work: settings.entryMs === undefined ? 'timer' : 'entries', report: 'events', onSigterm: 'shutdown' },
      {
        onStderr: (line) => void (stderr.length < 50 && stderr.push(line.slice(0, 2000))),
        onStray: (line) => void stderr.push(`unparsable stdout line: ${line.slice(0, 200)}`),
      },
    );
    this.stderr = stderr;
  }

  /** LBS ids whose window is open now (started, and no outcome yet: see `endsWindow`). */
  openWindows(): Map<string, EventOf<'started'>> {
    const open = new Map<string, EventOf<'started'>>();
    if (!this.alive) return open;
    for (const e of this.events) {
      if (e.event === 'started') open.set(e.id, e);
      else if (endsWindow(e.event) && e.id !== undefined) open.delete(e.id);
    }
    return open;
  }

  override signal(sig: NodeJS.Signals): void {
    if (sig === 'SIGKILL' || sig === 'SIGTERM') this.endedByDriver = true;
    super.signal(sig);
  }

  /** SIGKILL (after SIGCONT, for a stopped one); resolves when it is gone. */
  override async kill(): Promise<void> {
    if (this.alive) this.endedByDriver = true;
    await super.kill();
  }
}
