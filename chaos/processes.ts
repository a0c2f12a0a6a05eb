import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * Every process and temp dir the chaos run creates (redis-server, consumers), so that they go
 * away however the run ends: normally, on an error, on Ctrl-C (SIGINT), SIGTERM, or process exit.
 * Consumers also exit by themselves when their stdin closes (the driver died).
 */
const running = new Set<ChildProcess>();
const dirs = new Set<string>();
const closers = new Set<() => void>();

export const track = (child: ChildProcess): ChildProcess => {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
};

export const trackDir = (dir: string): void => void dirs.add(dir);
export const untrackDir = (dir: string): void => {
  dirs.delete(dir);
  rmSync(dir, { recursive: true, force: true });
};

/** Something to close at cleanup (a proxy server, a connection); returns the function that untracks it. */
export const trackCloser = (close: () => void): (() => void) => {
  closers.add(close);
  return () => closers.delete(close);
};

/** Kills every tracked process now (SIGCONT first, for a stopped one), closes the rest, removes the temp dirs. */
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
  for (const close of closers) {
    try {
      close();
    } catch {
      // best effort
    }
  }
  closers.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
};

let installed = false;

/** For the command line run: clean up on exit and on SIGINT/SIGTERM/SIGHUP. */
export const installCleanupHandlers = (): void => {
  if (installed) return;
  installed = true;
  process.once('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nchaos: ${signal}, stopping redis-server, proxies and consumers\n`);
      killAll();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
};
