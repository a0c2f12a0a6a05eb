/**
 * What the consumer and producer processes of the load-balancing example tell main.ts, over the
 * IPC channel Node opens when main.ts spawns them. Run by hand (no IPC channel), they print the
 * same events as plain lines instead.
 */

export type Message =
  /** The producer put a data stream in the load-balancer stream. */
  | { readonly type: 'added'; readonly stream: string; readonly id: string; readonly entries: number }
  /** The producer added all its streams and is exiting. */
  | { readonly type: 'produced'; readonly count: number }
  /** A consumer's client has started: its consumer group exists and its reader is about to block in XREADGROUP. */
  | { readonly type: 'ready'; readonly consumer: string }
  /** A consumer was handed a stream (`StreamAdded`) or won the claim of an expired one (`StreamClaimed`). */
  | { readonly type: 'got'; readonly consumer: string; readonly stream: string; readonly via: 'StreamAdded' | 'StreamClaimed' }
  /** How the work on a stream ended (the `processStreams` outcome). */
  | {
      readonly type: 'outcome';
      readonly consumer: string;
      readonly stream: string;
      readonly outcome: 'Processed' | 'Abandoned' | 'Rebalanced' | 'Failed';
      readonly entries?: number;
      readonly ms?: number;
      readonly error?: string;
    }
  /** A consumer finished `client.done()` and is exiting. */
  | { readonly type: 'stopped'; readonly consumer: string };

/** Reads a required env variable, or exits with a message saying how the program is run. */
export function requiredEnv(name: string, program: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    process.stderr.write(`${program}: env ${name} is required (main.ts sets it; see examples/load-balancing/README.md)\n`);
    process.exit(2);
  }
  return value;
}

/** Reads a positive integer from the env, or `fallback`. */
export function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`env ${name} must be a positive integer (got ${JSON.stringify(raw)})\n`);
    process.exit(2);
  }
  return value;
}

/** Sends `message` to main.ts, or prints it when the program runs on its own. `then` runs once it is sent. */
export function report(message: Message, then?: () => void): void {
  if (process.send !== undefined) {
    // Spawned by main.ts. Once its channel is closed (main.ts is gone) there is nobody to tell.
    if (process.connected) process.send(message, undefined, undefined, () => then?.());
    else then?.();
    return;
  }
  console.log(JSON.stringify(message));
  then?.();
}

/** `report`, as a promise that resolves once the message is sent. */
export const reportSent = (message: Message): Promise<void> => new Promise((resolve) => report(message, resolve));

/** Narrows what arrives on a child's IPC channel. */
export function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}
