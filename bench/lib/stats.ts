import { readFileSync } from 'node:fs';
import { waitFor as poll, waitUntil } from '../../support/service';

export const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** Nearest-rank percentile (p in 0..100): with n samples, p99 is the largest sample once n < 100. Infinity counts (a timeout). */
export const percentile = (xs: readonly number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

/** High-resolution now, in ms. */
export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/**
 * Waits until `condition()` holds, polling every `everyMs`; false after `timeoutMs`. The benchmark
 * polls every 5 ms by default: a clock stopped when the wait returns is late by at most that.
 */
export const waitFor = (condition: () => boolean, timeoutMs: number, everyMs = 5): Promise<boolean> => poll(condition, timeoutMs, everyMs);

/** Like `waitFor` (every 5 ms), but throws with `what` on timeout. */
export const waitOrThrow = (condition: () => boolean, timeoutMs: number, what: string): Promise<void> => waitUntil(condition, timeoutMs, what, 5);

export const fmt = (n: number, digits = 1): string => {
  if (!Number.isFinite(n)) return n > 0 ? '∞' : 'n/a';
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(digits);
};

/** A progress line (stderr, so that stdout holds the table alone when redirected). */
export const progress = (scenario: string, message: string): void => {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${scenario}: ${message}\n`);
};

/** Busy and total CPU time of the whole machine so far (all CPUs, /proc/stat), in clock ticks; undefined off Linux. */
export const machineCpu = (): { busy: number; total: number } | undefined => {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
    const busy = user! + nice! + system! + irq! + softirq! + steal!;
    return { busy, total: busy + idle! + iowait! };
  } catch {
    return undefined;
  }
};
