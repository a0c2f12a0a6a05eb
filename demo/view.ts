/**
 * What the demo shows while it runs. On a terminal: a live view redrawn 5 times a second with
 * plain ANSI escape codes (one row per consumer, the stream counts, the last events). Anywhere
 * else (CI, a pipe): one plain log line per event, nothing redrawn.
 */
import type { ConsumerRow, ConsumerState, DemoState, LogLine, Tone } from './state';

export interface ViewMeta {
  readonly redis: string;
  readonly heartbeatMs: number;
}

export interface View {
  start(): void;
  /** Stops redrawing; the live view draws its last frame and leaves it on screen. */
  stop(): void;
}

const ESC = '\x1b[';
const ansi = {
  home: `${ESC}H`,
  clearScreen: `${ESC}2J`,
  clearLine: `${ESC}K`,
  clearBelow: `${ESC}J`,
  hideCursor: `${ESC}?25l`,
  showCursor: `${ESC}?25h`,
};

export type Paint = (text: string, ...codes: number[]) => string;
export const paint: Paint = (text, ...codes) => `${ESC}${codes.join(';')}m${text}${ESC}0m`;
export const noPaint: Paint = (text) => text;

const TONE_CODES: Record<Tone, number[]> = { info: [], good: [32], warn: [33], bad: [31, 1], phase: [36, 1], dim: [2] };
const STATE_CODES: Record<ConsumerState, number[]> = {
  starting: [2],
  running: [32],
  paused: [33, 1],
  killed: [31, 1],
  stopping: [2],
  stopped: [2],
  exited: [31],
};

const LOG_LINES = 8;
const REDRAWS_PER_SECOND = 5;

/** Cuts or pads plain text to exactly `width` characters. */
const fit = (text: string, width: number): string => (text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width));

/** Cuts plain text longer than `width` characters. */
const clipTo = (width: number) => (text: string): string => (text.length > width ? `${text.slice(0, width - 1)}…` : text);

const streamNumbers = (state: DemoState, row: ConsumerRow): string =>
  [...row.owned].map((s) => state.short(s).replace(/^stream-/, '')).sort().join(' ');

const COLUMNS = [
  ['POD', 6],
  ['PID', 7],
  ['STATE', 8],
  ['OWNED NOW (stream #)', 0],
  ['DONE', 5],
  ['WON/LOST', 8],
  ['BEATS', 6],
  ['EXTENDED', 8],
] as const;
const STATE_COLUMN = 2;
const OWNED_COLUMN = 3;

/** Column widths for a screen `width` wide: the owned-streams column takes what the others leave (20..48). */
const columnWidths = (width: number): number[] => {
  const others = COLUMNS.reduce((n, [, w]) => n + w + 1, 1);
  return COLUMNS.map(([, w], i) => (i === OWNED_COLUMN ? Math.min(48, Math.max(20, width - others)) : w));
};

const tableHeader = (width: number): string => ` ${COLUMNS.map(([title], i) => fit(title, columnWidths(width)[i]!)).join(' ')}`;

/** A consumer's row of the table, clipped to `width`, with its state coloured. */
const consumerLine = (state: DemoState, row: ConsumerRow, width: number, p: Paint): string => {
  const widths = columnWidths(width);
  const cells = [
    row.pod,
    String(row.pid ?? '-'),
    row.state,
    `${row.owned.size}  ${streamNumbers(state, row)}`,
    String(row.processed),
    `${row.claimsWon}/${row.claimsLost}`,
    String(row.beats),
    String(row.extended),
  ].map((text, i) => fit(text, widths[i]!));
  const line = clipTo(width)(` ${cells.join(' ')}`);
  const start = 1 + cells.slice(0, STATE_COLUMN).reduce((n, c) => n + c.length + 1, 0);
  const end = start + cells[STATE_COLUMN]!.length;
  return line.slice(0, start) + p(line.slice(start, end), ...STATE_CODES[row.state]) + line.slice(end);
};

const streamsLine = (state: DemoState): string =>
  ` streams: added ${state.produced.length} · handed out ${state.handedOut.size} · in flight ${state.inFlight} · done ${state.doneBy.size}`;

const failoverLine = (state: DemoState): string => {
  const failover = state.failoverMs === undefined ? '-' : `${state.failoverMs} ms`;
  return ` failover: ${failover} · take-overs ${state.takeovers.length} · disowned ${state.disownedCount}`;
};

export const logText = (state: DemoState, line: LogLine): string => `${state.elapsed(line.at)}  ${line.who.padEnd(6)} ${line.text}`;

/** One frame of the live view, as lines (no line longer than `width` visible characters, before colour). */
export const renderFrame = (state: DemoState, meta: ViewMeta, width: number, p: Paint): string[] => {
  const clip = clipTo(width);
  return [
    p(clip(` redis-stream-client-rx · failover demo · t = ${state.elapsed().trim()}`), 1),
    p(clip(` Redis: ${meta.redis} · service ${state.service} · heartbeat ${meta.heartbeatMs} ms`), 2),
    '',
    p(clip(` ▶ ${state.phase}`), 36, 1),
    '',
    p(clip(tableHeader(width)), 1, 4),
    ...state.rows.map((row) => consumerLine(state, row, width, p)),
    '',
    clip(streamsLine(state)),
    p(clip(failoverLine(state)), ...(state.failoverMs === undefined ? [] : [32, 1])),
    '',
    p(' Last events', 1),
    ...state.log.slice(-LOG_LINES).map((line) => p(clip(`  ${logText(state, line)}`), ...TONE_CODES[line.tone])),
  ];
};

/** Redraws the whole view in place, `REDRAWS_PER_SECOND` times a second. */
class LiveView implements View {
  private timer: NodeJS.Timeout | undefined;
  private readonly restoreCursor = (): void => void process.stdout.write(ansi.showCursor);

  constructor(private readonly state: DemoState, private readonly meta: ViewMeta, private readonly p: Paint) {}

  start(): void {
    process.stdout.write(ansi.hideCursor + ansi.clearScreen + ansi.home);
    process.once('exit', this.restoreCursor);
    this.timer = setInterval(() => this.draw(), 1000 / REDRAWS_PER_SECOND);
    this.draw();
  }

  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.draw();
    this.restoreCursor();
  }

  private draw(): void {
    const width = Math.max(40, (process.stdout.columns ?? 100) - 1);
    const lines = renderFrame(this.state, this.meta, width, this.p);
    process.stdout.write(ansi.home + lines.map((l) => l + ansi.clearLine).join('\n') + '\n' + ansi.clearBelow);
  }
}

/** Prints every logged event as one line, as it happens. */
class LogView implements View {
  private running = false;

  constructor(private readonly state: DemoState, private readonly meta: ViewMeta) {
    state.onLog((line) => this.running && this.print(line));
  }

  start(): void {
    this.running = true;
    process.stdout.write(`redis-stream-client-rx failover demo · Redis: ${this.meta.redis} · service ${this.state.service} · heartbeat ${this.meta.heartbeatMs} ms\n`);
  }

  stop(): void {
    this.running = false;
  }

  private print(line: LogLine): void {
    const text = logText(this.state, line);
    process.stdout.write(line.tone === 'phase' ? `\n${text}\n` : `${text}\n`);
  }
}

/** Colours on a terminal unless NO_COLOR is set. */
export const terminalPaint = (): Paint => (process.stdout.isTTY && !process.env.NO_COLOR ? paint : noPaint);

export const createView = (state: DemoState, meta: ViewMeta): View =>
  process.stdout.isTTY ? new LiveView(state, meta, terminalPaint()) : new LogView(state, meta);
