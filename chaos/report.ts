import type { CaseDef, RunResult } from './driver';
import { percentile } from './checks';

/** One row of the table: every run of one case. */
export interface CaseSummary {
  readonly case: string;
  readonly title: string;
  readonly assertion: string;
  readonly runs: number;
  readonly passed: number;
  readonly streams: number;
  readonly vanished: number;
  readonly lost: number;
  /** entries of the finished streams' data streams, lost among them, handled again, the most one take left to be handled again (bound: one commit batch) */
  readonly entries: number;
  readonly entriesLost: number;
  readonly entriesTwice: number;
  readonly entriesRepeatedMax: number;
  readonly entriesBound: number;
  readonly duplicateMaxMs: number;
  readonly duplicateBoundMs: number;
  readonly recoveryP50Ms: number | undefined;
  readonly recoveryP99Ms: number | undefined;
  readonly recoverySamples: number;
  readonly handOutP99Ms: number | undefined;
  readonly ok: boolean;
  readonly failures: string[];
}

export const summarise = (def: CaseDef, runs: readonly RunResult[]): CaseSummary => {
  const recovery = runs.flatMap((r) => r.analysis.recoveryMs);
  const handOut = runs.flatMap((r) => r.analysis.handOutMs);
  return {
    case: def.name,
    title: def.title,
    assertion: def.assertion,
    runs: runs.length,
    passed: runs.filter((r) => r.ok).length,
    streams: runs.reduce((n, r) => n + r.analysis.streams, 0),
    vanished: runs.reduce((n, r) => n + r.analysis.vanished, 0),
    lost: runs.reduce((n, r) => n + r.analysis.lost, 0),
    entries: runs.reduce((n, r) => n + r.analysis.entries.expected, 0),
    entriesLost: runs.reduce((n, r) => n + r.analysis.entries.lost, 0),
    entriesTwice: runs.reduce((n, r) => n + r.analysis.entries.twice, 0),
    entriesRepeatedMax: Math.max(0, ...runs.map((r) => r.analysis.entries.maxRepeatedPerTake)),
    entriesBound: Math.max(0, ...runs.map((r) => r.analysis.entries.bound)),
    duplicateMaxMs: Math.max(0, ...runs.map((r) => r.analysis.duplicate.ms)),
    duplicateBoundMs: Math.max(0, ...runs.map((r) => r.analysis.duplicateBoundMs)),
    recoveryP50Ms: percentile(recovery, 50),
    recoveryP99Ms: percentile(recovery, 99),
    recoverySamples: recovery.length,
    handOutP99Ms: percentile(handOut, 99),
    ok: runs.length > 0 && runs.every((r) => r.ok),
    failures: runs.flatMap((r) => r.failures.map((f) => `run ${r.run}: ${f}`)),
  };
};

const ms = (v: number | undefined): string => (v === undefined ? '–' : String(Math.round(v)));

export const table = (rows: readonly CaseSummary[]): string => {
  const header = ['fault', 'runs', 'streams', 'lost', 'vanished', 'entries', 'entries lost', 'entries twice (max/take, bound)', 'dup max ms (bound)', 'recovery p50/p99 ms (n)', 'hand-out p99 ms', 'result'];
  const body = rows.map((r) => [
    r.case,
    `${r.passed}/${r.runs}`,
    String(r.streams),
    String(r.lost),
    String(r.vanished),
    String(r.entries),
    String(r.entriesLost),
    `${r.entriesTwice} (${r.entriesRepeatedMax}, ${r.entriesBound})`,
    `${r.duplicateMaxMs} (${r.duplicateBoundMs})`,
    `${ms(r.recoveryP50Ms)}/${ms(r.recoveryP99Ms)} (${r.recoverySamples})`,
    ms(r.handOutP99Ms),
    r.ok ? 'PASS' : 'FAIL',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...body.map(line)].join('\n');
};
