/**
 * The JSON lines a chaos consumer (chaos/consumer.ts) prints on stdout, one per event. The driver
 * adds nothing to them but the process they came from; every time is `Date.now()` of the consumer
 * (one machine, one clock).
 */
export type ConsumerEventKind =
  /** START_ON_SIGNAL=1: loaded, waiting for SIGUSR1 to start the client */
  | 'loaded'
  /** the client started (keyspace flags, group, reader): the consumer serves streams from now on */
  | 'ready'
  /** notifications of the library */
  | 'added'
  | 'expired'
  | 'claimed'
  | 'disowned'
  /** processStreams: the handler started on a stream (a processing window opens) */
  | 'started'
  /** the handler completed: doneStream is called next */
  | 'work-done'
  /** outcome Processed: the handler completed and doneStream acknowledged the entry (the window closes) */
  | 'finished'
  /** outcome Abandoned: disowned, or doneStream found the stream no longer ours (the window closes) */
  | 'abandoned'
  /** outcome Failed: the handler or doneStream failed (the window closes) */
  | 'failed'
  /** a failed claim (other than a lost race), or notifications$ erroring */
  | 'error'
  /** notifications$ completed */
  | 'completed'
  /** SIGUSR2: the event loop is blocked by a busy-wait from block-start to block-end */
  | 'block-start'
  | 'block-end'
  /** a warning/error/info line of the library's logger */
  | 'lib';

export interface ConsumerEvent {
  readonly ev: ConsumerEventKind;
  readonly at: number;
  readonly consumer: string;
  readonly pid: number;
  /** the data-stream name, cut to 120 characters (a 1 MB name would make a 1 MB line) */
  readonly stream?: string;
  readonly nameLength?: number;
  /** the LBS entry id */
  readonly id?: string;
  /** started: planned work, ms; finished/abandoned/failed: when the window opened */
  readonly workMs?: number;
  readonly startedAt?: number;
  readonly code?: string;
  readonly message?: string;
  readonly level?: string;
}

/** Keeps names of any size printable. */
export const shortName = (name: string): string => (name.length > 120 ? `${name.slice(0, 100)}…(${name.length} chars)` : name);
