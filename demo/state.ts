/**
 * What the demo runner knows: one row per consumer (built from the events the consumers report),
 * the streams added / handed out / claimed / done, and a log of notable events. The views read it;
 * the scenario waits on it. Nothing here talks to Redis or to processes.
 */
import type { ConsumerEvent } from '../support/protocol';

export type ConsumerState = 'starting' | 'running' | 'paused' | 'killed' | 'stopping' | 'stopped' | 'exited';

export interface ConsumerRow {
  readonly pod: string;
  pid: number | undefined;
  state: ConsumerState;
  /** Streams this consumer owns now (a stream claimed by another consumer leaves this set at once). */
  readonly owned: Set<string>;
  /** Streams it reported done. */
  processed: number;
  claimsWon: number;
  claimsLost: number;
  /** Streams it was told it no longer owns (StreamDisowned), or whose doneStream was refused (NOT_OWNER). */
  readonly disowned: Set<string>;
  readonly refused: Set<string>;
  /** Its hbInterval/2 ticks, and lock extensions the library reported (metrics). */
  beats: number;
  extended: number;
}

export type Tone = 'info' | 'good' | 'warn' | 'bad' | 'phase' | 'dim';

export interface LogLine {
  readonly at: number;
  readonly who: string;
  readonly text: string;
  readonly tone: Tone;
}

/** A stream that a consumer took while another one held it (or had held it until it died or stalled). */
export interface Takeover {
  readonly stream: string;
  readonly pod: string;
  readonly at: number;
  /** `claimed`: claim() after a StreamExpired; `recovered`: the library handed it out again (StreamAdded). */
  readonly how: 'claimed' | 'recovered';
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

export class DemoState {
  readonly startedAt = Date.now();
  readonly rows: ConsumerRow[];
  readonly log: LogLine[] = [];
  /** Streams the producer added (full names), in order. */
  readonly produced: string[] = [];
  /** Streams handed out with StreamAdded. */
  readonly handedOut = new Set<string>();
  readonly takeovers: Takeover[] = [];
  /** Stream -> the consumer that finished it first. */
  readonly doneBy = new Map<string, string>();
  /** Streams reported done by two consumers (a stalled one that was not told it lost them). */
  readonly processedTwice = new Set<string>();
  phase = 'starting';
  failoverMs: number | undefined;
  private readonly listeners: ((line: LogLine) => void)[] = [];

  constructor(readonly service: string, consumers: number) {
    this.rows = Array.from({ length: consumers }, (_, i) => newRow(`pod-${i + 1}`));
  }

  /** `demo-…:stream-07` -> `stream-07`. */
  short(stream: string): string {
    return stream.startsWith(`${this.service}:`) ? stream.slice(this.service.length + 1) : stream;
  }

  streamName(i: number): string {
    return `${this.service}:stream-${String(i).padStart(2, '0')}`;
  }

  row(pod: string): ConsumerRow {
    const row = this.rows.find((r) => r.pod === pod);
    if (row === undefined) throw new Error(`no consumer ${pod}`);
    return row;
  }

  onLog(listener: (line: LogLine) => void): void {
    this.listeners.push(listener);
  }

  /** Adds a line to the event log. */
  note(who: string, text: string, tone: Tone = 'info'): void {
    const line = { at: Date.now(), who, text, tone };
    this.log.push(line);
    if (this.log.length > 200) this.log.splice(0, this.log.length - 200);
    for (const listener of this.listeners) listener(line);
  }

  /** A step of the script: shown as the current phase and logged. */
  enterPhase(text: string): void {
    this.phase = text;
    this.note('»', text, 'phase');
  }

  /** Applies one event a consumer reported. */
  apply(row: ConsumerRow, e: ConsumerEvent): void {
    switch (e.event) {
      case 'ready':
        row.state = row.state === 'starting' ? 'running' : row.state;
        return this.note(row.pod, `started as ${e.consumer}`, 'dim');
      case 'added':
        return this.added(row, e.stream, e.workMs ?? 0, e.at);
      case 'expired':
        return;
      case 'claimed':
        return this.claimed(row, e.stream, e.workMs ?? 0, e.at);
      case 'claim-lost':
        row.claimsLost++;
        return this.note(row.pod, `claim of ${this.short(e.stream)} lost the race (${e.code ?? 'UNKNOWN'})`, 'dim');
      case 'disowned':
        row.owned.delete(e.stream);
        row.disowned.add(e.stream);
        return this.note(row.pod, `StreamDisowned ${this.short(e.stream)}: stops working on it`, 'warn');
      case 'finished':
        return this.done(row, e.stream);
      case 'done-refused':
        row.owned.delete(e.stream);
        row.refused.add(e.stream);
        return this.note(row.pod, `doneStream ${this.short(e.stream)} refused (${e.code ?? 'UNKNOWN'}): another consumer owns it`, 'warn');
      case 'tick':
        row.beats = e.beats;
        row.extended = e.extended;
        return;
      case 'error':
        return this.note(row.pod, `error ${e.code ?? 'UNKNOWN'}: ${e.message}`, 'bad');
      case 'stopped':
        row.state = 'stopped';
        return this.note(row.pod, 'client.done(): stopped', 'dim');
    }
  }

  private done(row: ConsumerRow, stream: string): void {
    row.owned.delete(stream);
    row.processed++;
    const before = this.doneBy.get(stream);
    if (before !== undefined) {
      this.processedTwice.add(stream);
      return this.note(row.pod, `done ${this.short(stream)} AGAIN: ${before} had already finished it (processed twice)`, 'bad');
    }
    this.doneBy.set(stream, row.pod);
    this.note(row.pod, `done ${this.short(stream)}`, 'good');
  }

  /** A new stream, or one the library recovered from a consumer that lost it. */
  private added(row: ConsumerRow, stream: string, workMs: number, at: number): void {
    const again = this.handedOut.has(stream);
    const from = this.moveTo(row, stream);
    this.handedOut.add(stream);
    if (!again) return this.note(row.pod, `StreamAdded ${this.short(stream)} (work ${secs(workMs)})`);
    this.takeovers.push({ stream, pod: row.pod, at, how: 'recovered' });
    this.note(row.pod, `StreamAdded ${this.short(stream)} again: recovered${from} (work ${secs(workMs)})`, 'good');
  }

  private claimed(row: ConsumerRow, stream: string, workMs: number, at: number): void {
    const from = this.moveTo(row, stream);
    row.claimsWon++;
    this.takeovers.push({ stream, pod: row.pod, at, how: 'claimed' });
    this.note(row.pod, `claimed ${this.short(stream)}${from} (work ${secs(workMs)})`, 'good');
  }

  /** `row` owns the stream now, and nobody else does; returns " from <previous owner>" (or ''). */
  private moveTo(row: ConsumerRow, stream: string): string {
    const from = this.rows.find((r) => r !== row && r.owned.has(stream));
    for (const other of this.rows) other.owned.delete(stream);
    row.owned.add(stream);
    return from === undefined ? '' : ` from ${from.pod}`;
  }

  /** Streams taken over since `since` by a consumer other than `pod`. */
  takenFrom(pod: string, since: number): Takeover[] {
    return this.takeovers.filter((t) => t.pod !== pod && t.at >= since);
  }

  /** Streams in the hands of a consumer: handed out or claimed, not done. */
  get inFlight(): number {
    return this.rows.reduce((n, r) => n + r.owned.size, 0);
  }

  get disownedCount(): number {
    return this.rows.reduce((n, r) => n + r.disowned.size, 0);
  }

  elapsed(at: number = Date.now()): string {
    return `${((at - this.startedAt) / 1000).toFixed(1).padStart(5)}s`;
  }
}

const newRow = (pod: string): ConsumerRow => ({
  pod,
  pid: undefined,
  state: 'starting',
  owned: new Set(),
  processed: 0,
  claimsWon: 0,
  claimsLost: 0,
  disowned: new Set(),
  refused: new Set(),
  beats: 0,
  extended: 0,
});
