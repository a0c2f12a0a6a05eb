import type Redis from 'ioredis';

interface Call {
  readonly at: number;
  readonly keys: number;
  done?: number;
}

/** One heartbeat tick as seen on the wire: its script calls, from the first sent to the last answered. */
export interface Tick {
  readonly ms: number;
  readonly calls: number;
  readonly keys: number;
}

const now = (): number => Number(process.hrtime.bigint()) / 1e6;

/**
 * Watches the script calls a `RedisStreamClient` sends on the connection it was given, and groups
 * the large ones (at least `minKeys` keys: the heartbeat's batch `extendLocks` calls, one per
 * 1000 locks) into ticks. Measuring from outside, on the connection, keeps the benchmark
 * independent of the signature of `Scripts.extendLocks`, and times exactly what the client's
 * heartbeat does: every chunk sent at once, the tick done when the last one is answered.
 * Record only while no hand-out runs (taking the locks of a large batch is a large script call too).
 */
export class HeartbeatProbe {
  recording = false;
  private calls: Call[] = [];

  constructor(conn: Redis, private readonly minKeys = 100) {
    type Send = (command: { name: string; args: unknown[]; promise: Promise<unknown> }, stream?: unknown) => unknown;
    const target = conn as unknown as { sendCommand: Send };
    const send = target.sendCommand.bind(conn) as Send;
    target.sendCommand = (command, stream) => {
      if (this.recording && (command.name === 'evalsha' || command.name === 'eval')) {
        const keys = Number(command.args[1]);
        if (keys >= this.minKeys) {
          const call: Call = { at: now(), keys };
          this.calls.push(call);
          command.promise.then(
            () => (call.done = now()),
            () => undefined,
          );
        }
      }
      return send(command, stream);
    };
  }

  /** Completed ticks recorded so far (calls sent less than 200 ms apart belong to one tick). */
  ticks(): Tick[] {
    const groups: Call[][] = [];
    for (const call of [...this.calls].sort((a, b) => a.at - b.at)) {
      const last = groups[groups.length - 1];
      if (last !== undefined && call.at - last[0]!.at < 200) last.push(call);
      else groups.push([call]);
    }
    return groups
      .filter((g) => g.every((c) => c.done !== undefined))
      .map((g) => ({
        ms: Math.max(...g.map((c) => c.done!)) - Math.min(...g.map((c) => c.at)),
        calls: g.length,
        keys: g.reduce((sum, c) => sum + c.keys, 0),
      }));
  }

  reset(): void {
    this.calls = [];
  }
}
