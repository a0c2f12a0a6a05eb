import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * Every process, temp dir and closable thing a tool starts (redis-server, child consumers,
 * proxies), so that they go away however the run ends: normally, on an error, on Ctrl-C (SIGINT),
 * SIGTERM or SIGHUP, or at process exit. The tests, the chaos suite, the benchmark and the demo
 * use it; their child consumers (support/consumer.ts) also exit by themselves when their stdin
 * closes (the parent died).
 */
const running = new Set<ChildProcess>();
const cleanups = new Set<() => void>();
const dirs = new Map<string, () => void>();

export const track = (child: ChildProcess): ChildProcess => {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
};

/** The tracked processes that have not exited, as `pid command args` (what keeps a run up, when one is left). */
export const stillRunning = (): string[] => [...running].map((c) => `${c.pid} ${c.spawnargs.join(' ').slice(0, 160)}${c.killed ? ' (signalled)' : ''}`);

/** Also run `fn` (synchronously) at cleanup, e.g. closing a proxy; returns the function that untracks it. */
export const onCleanup = (fn: () => void): (() => void) => {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
};

/** Removes `dir` at cleanup, unless `untrackDir` removed it first. */
export const trackDir = (dir: string): void => {
  dirs.set(dir, onCleanup(() => rmSync(dir, { recursive: true, force: true })));
};

/** Removes `dir` now and forgets it. */
export const untrackDir = (dir: string): void => {
  dirs.get(dir)?.();
  dirs.delete(dir);
  rmSync(dir, { recursive: true, force: true });
};

/** Kills every tracked process now (SIGCONT first, for a stopped one), then runs the cleanups. */
export const killAll = (): void => {
  for (const child of running) {
    try {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  running.clear();
  for (const fn of [...cleanups]) {
    try {
      fn();
    } catch {
      // best effort
    }
  }
  cleanups.clear();
  dirs.clear();
};

let installed = false;

/** For a command-line run: clean up at exit and on SIGINT/SIGTERM/SIGHUP, saying so as `<tool>: <signal>, stopping <what>`. */
export const installCleanupHandlers = (tool: string, what: string): void => {
  if (installed) return;
  installed = true;
  process.once('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${tool}: ${signal}, stopping ${what}\n`);
      killAll();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
};

/** Calls `onLine` with each non-empty line written to `stream` (a child's stdout or stdin). */
export const onLines = (stream: NodeJS.ReadableStream, onLine: (line: string) => void): void => {
  let buffer = '';
  stream.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    for (const line of lines) if (line.trim()) onLine(line);
  });
};

/**
 * The one JSON-lines reader: calls `onValue` with each line of `stream` that parses as a JSON
 * object, and `onStray` (if given) with every other line.
 */
export const onJsonLines = (stream: NodeJS.ReadableStream, onValue: (value: Record<string, unknown>, line: string) => void, onStray?: (line: string) => void): void =>
  onLines(stream, (line) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      value = undefined;
    }
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) onValue(value as Record<string, unknown>, line);
    else onStray?.(line);
  });
