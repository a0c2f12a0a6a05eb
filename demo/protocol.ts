/**
 * What a demo consumer (demo/consumer.ts) tells the demo runner: one JSON object per line on
 * its stdout. Both sides import these types, so the runner and the consumers cannot drift apart.
 */

/** Fields every event carries: the consumer's wall clock when it happened (ms since epoch). */
interface Stamped {
  readonly at: number;
}

/** Events about one data stream. `workMs` is the simulated processing time the consumer picked. */
export type StreamEvent =
  | { readonly event: 'added'; readonly stream: string; readonly id: string; readonly workMs: number }
  | { readonly event: 'expired'; readonly stream: string; readonly id: string }
  | { readonly event: 'claimed'; readonly stream: string; readonly id: string; readonly workMs: number }
  | { readonly event: 'claim-lost'; readonly stream: string; readonly code: string }
  | { readonly event: 'disowned'; readonly stream: string }
  | { readonly event: 'done'; readonly stream: string; readonly heldMs: number }
  | { readonly event: 'done-refused'; readonly stream: string; readonly code: string };

/** Events about the consumer itself. `beats` counts hbInterval/2 ticks; `extended` counts lock extensions. */
export type LifeEvent =
  | { readonly event: 'ready'; readonly consumer: string }
  | { readonly event: 'tick'; readonly beats: number; readonly extended: number; readonly extendFailed: number }
  | { readonly event: 'error'; readonly code: string; readonly message: string }
  | { readonly event: 'stopped' };

export type ConsumerEvent = (StreamEvent | LifeEvent) & Stamped;

/** Writes one event as a JSON line (the consumer side). */
export const emit = (event: StreamEvent | LifeEvent): void => {
  process.stdout.write(`${JSON.stringify({ ...event, at: Date.now() })}\n`);
};

/** Reads one line (the runner side); undefined for anything that is not an event (stray output). */
export const parseEvent = (line: string): ConsumerEvent | undefined => {
  try {
    const value: unknown = JSON.parse(line);
    const ok = typeof value === 'object' && value !== null && typeof (value as { event?: unknown }).event === 'string';
    return ok ? (value as ConsumerEvent) : undefined;
  } catch {
    return undefined;
  }
};
