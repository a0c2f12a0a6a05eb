/**
 * The demo's verdict: what was handed out, processed, failed over and disowned, and whether
 * anything was lost, checked against Redis itself. `ok` decides the exit code.
 */
import type { RedisCheck } from './redis-check';
import type { ScenarioReport } from './scenario';
import type { DemoState } from './state';
import type { Paint } from './view';

export interface SummaryInput {
  readonly state: DemoState;
  readonly report: ScenarioReport;
  readonly check: RedisCheck | undefined;
  readonly redis: string;
  readonly keysRemoved: number | undefined;
  /** The signal that stopped the demo early, if any. */
  readonly interruptedBy: string | undefined;
}

export interface Summary {
  readonly lines: string[];
  readonly ok: boolean;
  readonly problems: string[];
}

/** Streams the killed consumer owned, and how many of them a survivor finished. */
const victimOutcome = ({ state, report }: SummaryInput): { total: number; bySurvivors: number } | undefined => {
  if (report.kill === undefined) return undefined;
  const { pod, streams } = report.kill;
  const bySurvivors = streams.filter((s) => state.doneBy.has(s) && state.doneBy.get(s) !== pod).length;
  return { total: streams.length, bySurvivors };
};

const problemsOf = (input: SummaryInput, lost: number): string[] => {
  const problems: string[] = [];
  if (!input.report.finished) problems.push('the demo script did not run to its end');
  if (lost !== 0) problems.push(`${lost} stream(s) added but never done`);
  const { check } = input;
  if (check === undefined) problems.push('Redis could not be inspected at the end');
  else {
    if (check.lbsLength !== 0) problems.push(`${check.lbsLength} entr(ies) left in the LBS`);
    if (check.pending !== 0) problems.push(check.pending < 0 ? 'the consumer group is missing' : `${check.pending} entr(ies) left pending`);
  }
  const victim = victimOutcome(input);
  if (victim !== undefined && victim.bySurvivors !== victim.total) {
    problems.push(`only ${victim.bySurvivors} of the killed consumer's ${victim.total} streams were finished by survivors`);
  }
  return problems;
};

const killLine = (report: ScenarioReport): string => {
  const kill = report.kill;
  if (kill === undefined) return 'not reached';
  if (kill.streams.length === 0) return `n/a (SIGKILL ${kill.pod}: it owned no unfinished stream)`;
  if (kill.failoverMs === undefined) return `INCOMPLETE (SIGKILL ${kill.pod}: not all of its ${kill.streams.length} streams were taken over)`;
  return `${kill.failoverMs} ms  (SIGKILL ${kill.pod} → last of its ${kill.streams.length} streams taken over by a survivor)`;
};

const stallLine = (report: ScenarioReport, state: DemoState): string => {
  const stall = report.stall;
  if (stall === undefined) return 'not reached or skipped';
  const row = state.row(stall.pod);
  return `${stall.pod} stopped ${stall.pausedMs} ms: ${stall.takenOver.length} streams taken over, ` +
    `${row.disowned.size} StreamDisowned, ${row.refused.size} doneStream refused`;
};

const redisLine = (input: SummaryInput): string => {
  const { check, state } = input;
  if (check === undefined) return 'could not be inspected';
  return `XLEN ${state.service}-input ${check.lbsLength} · pending ${check.pending} · locks left ${check.locksLeft} · dead letters ${check.deadLetters}`;
};

const verdictLine = ({ interruptedBy, keysRemoved }: SummaryInput, problems: readonly string[], p: Paint): string => {
  if (interruptedBy !== undefined) {
    const keys = keysRemoved === undefined ? 'its keys could not be removed' : "its processes and keys were removed";
    return p(`RESULT: interrupted by ${interruptedBy}; ${keys}`, 33, 1);
  }
  return problems.length === 0 ? p('RESULT: OK, nothing lost', 32, 1) : p(`RESULT: FAILED: ${problems.join('; ')}`, 31, 1);
};

/** Not a loss, but not what the library promises either: shown, without changing the exit code. */
const warnings = (state: DemoState, p: Paint): string[] =>
  state.processedTwice.size === 0
    ? []
    : [
        p(
          ` warning: ${state.processedTwice.size} stream(s) were processed twice: a consumer resumed from SIGSTOP kept working on ` +
            'streams that another consumer had claimed and finished meanwhile, and was not told (StreamDisowned) that it had lost them.',
          33,
          1,
        ),
      ];

export const summarize = (input: SummaryInput, p: Paint): Summary => {
  const { state, report } = input;
  const lost = state.produced.length - state.doneBy.size;
  const problems = problemsOf(input, lost);
  const victim = victimOutcome(input);
  const rows: [string, string][] = [
    ['Redis', input.redis],
    ['streams added', String(state.produced.length)],
    ['handed out (StreamAdded)', String(state.handedOut.size)],
    ['claims won after expiry', String(state.takeovers.filter((t) => t.how === 'claimed').length)],
    ['recovered (StreamAdded again)', String(state.takeovers.filter((t) => t.how === 'recovered').length)],
    ['processed (done)', String(state.doneBy.size)],
    ['failover time', killLine(report)],
    ["killed consumer's streams", victim === undefined ? '-' : `${victim.bySurvivors}/${victim.total} finished by survivors`],
    ['stall', stallLine(report, state)],
    ['disowned', String(state.disownedCount)],
    ['lost (added − done)', String(lost)],
    ['processed twice', state.processedTwice.size === 0 ? '0' : `${state.processedTwice.size} (${[...state.processedTwice].map((s) => state.short(s)).join(', ')})`],
    ['Redis at the end', redisLine(input)],
    ['demo keys removed', input.keysRemoved === undefined ? 'no (see above)' : String(input.keysRemoved)],
  ];
  const ok = problems.length === 0 && input.interruptedBy === undefined;
  const verdict = verdictLine(input, problems, p);
  const lines = ['', p(' Summary', 1), ...rows.map(([k, v]) => `   ${k.padEnd(29)} ${v}`), '', ` ${verdict}`, ...warnings(state, p)];
  return { lines, ok, problems };
};
