/** One line of the result table. `pass` is null for rows given for information only (no target). */
export interface Row {
  readonly id: string;
  readonly scenario: string;
  readonly ours: string;
  readonly baseline: string;
  readonly ratio: string;
  readonly target: string;
  readonly pass: boolean | null;
  /** The numbers behind the row, for results.json. */
  readonly values: Record<string, unknown>;
}

export interface BenchConfig {
  readonly quick: boolean;
  readonly soak: boolean;
  readonly soakSeconds: number;
  /** readCount of the hand-out scenario (and the raw ceiling's COUNT). */
  readonly readCount: number;
  /** Concurrency of the BullMQ worker in the hand-out scenario. */
  readonly bullmqConcurrency: number;
  /** Longest wait for one failover, ms: a kill not claimed by then counts as a timeout (∞). */
  readonly failoverCapMs: number;
  /** Streams of the fleet scenario's large scale-up and its mass failover. */
  readonly fleetStreams: number;
  readonly only: readonly string[] | undefined;
}

export const renderTable = (rows: readonly Row[]): string => {
  const header = ['scenario', 'ours', 'baseline', 'ratio', 'target', 'pass'];
  const cells = rows.map((r) => [r.scenario, r.ours, r.baseline, r.ratio, r.target, r.pass === null ? 'info' : r.pass ? 'PASS' : 'FAIL']);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) => `| ${c.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
};
