import type { ChildProcess } from 'node:child_process';

/**
 * Every process the benchmark starts (redis-server, child consumers), so that they are killed
 * whatever way the run ends: normal end, an error, Ctrl-C (SIGINT), SIGTERM, or process exit.
 * Child consumers also exit by themselves when their stdin closes (the parent died).
 */
const running = new Set<ChildProcess>();
const cleanups: (() => void)[] = [];
let installed = false;

export const track = (child: ChildProcess): ChildProcess => {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
};

/** Also run `fn` (synchronously) at cleanup, e.g. removing a temp dir. */
export const onCleanup = (fn: () => void): void => void cleanups.push(fn);

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
  for (const fn of cleanups.splice(0)) {
    try {
      fn();
    } catch {
      // best effort
    }
  }
};

export const installCleanupHandlers = (): void => {
  if (installed) return;
  installed = true;
  process.once('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping redis-server and child processes\n`);
      killAll();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
};
