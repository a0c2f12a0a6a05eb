/**
 * The chaos suite: `npm run chaos [-- --quick] [-- --case NAME[,NAME]] [-- --runs N] [-- --logs]`.
 *
 * For each named fault (chaos/faults.ts): a private redis-server, consumers in child processes
 * (support/consumer.ts, as chaos/consumers.ts configures it), a producer that keeps adding
 * streams, the fault, then quiescence and the checks (chaos/checks.ts) from Redis's own state and
 * the consumers' event logs. Prints a progress line per run, then a table, and writes
 * chaos/results.json. Exit code 1 when a row fails.
 */
import { cpus, loadavg } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasRedisServer } from '../support/redis-server';
import { describeOverlap } from './checks';
import { RunResult, runCase, settingsFor } from './driver';
import { CASES } from './faults';
import { installCleanupHandlers, killAll } from '../support/processes';
import { CaseSummary, summarise, table } from './report';

const HELP = `npm run chaos -- [options]
  --quick            one short run per case (about 4 minutes)
  --case NAME[,..]   only these cases (repeatable); names: ${CASES.map((c) => c.name).join(', ')}
  --runs N           runs per case (default 2, --quick 1)
  --logs             keep every consumer's event log in chaos/results.json (failing runs always keep theirs)
  --list             list the cases and exit`;

const parse = (argv: string[]) => {
  const opts = { quick: false, cases: [] as string[], runs: undefined as number | undefined, logs: false, list: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') opts.quick = true;
    else if (a === '--logs') opts.logs = true;
    else if (a === '--list') opts.list = true;
    else if (a === '--help' || a === '-h') opts.help = true;
    else if (a.startsWith('--case')) opts.cases.push(...value().split(',').filter(Boolean));
    else if (a.startsWith('--runs')) opts.runs = Number(value());
    else throw new Error(`unknown argument ${a}\n${HELP}`);
  }
  return opts;
};

const main = async (): Promise<number> => {
  const opts = parse(process.argv.slice(2));
  if (opts.help) {
    console.log(HELP);
    return 0;
  }
  if (opts.list) {
    for (const c of CASES) console.log(`${c.name.padEnd(20)} ${c.title}\n${''.padEnd(20)} assertion: ${c.assertion}`);
    return 0;
  }
  if (!hasRedisServer()) {
    console.error('chaos: needs a redis-server binary on the PATH (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis).');
    return 2;
  }
  const unknown = opts.cases.filter((n) => !CASES.some((c) => c.name === n));
  if (unknown.length > 0) throw new Error(`unknown case(s) ${unknown.join(', ')}; known: ${CASES.map((c) => c.name).join(', ')}`);
  const selected = opts.cases.length === 0 ? CASES : CASES.filter((c) => opts.cases.includes(c.name));
  const runs = opts.runs ?? (opts.quick ? 1 : 2);
  const settings = settingsFor(opts.quick);
  installCleanupHandlers('chaos', 'redis-server, proxies and consumers');

  const startedAt = Date.now();
  console.log(
    `chaos: ${selected.length} case(s) × ${runs} run(s); TTL (hbInterval) ${settings.hbInterval} ms; a stream every ${settings.produceEveryMs} ms; work ${settings.workMinMs}-${settings.workMaxMs} ms; ${cpus().length} CPUs, load ${loadavg()[0]!.toFixed(2)}`,
  );
  const results: { def: (typeof CASES)[number]; runs: RunResult[]; summary?: CaseSummary }[] = [];
  let index = 0;
  for (const def of selected) {
    index++;
    const row = { def, runs: [] as RunResult[] };
    results.push(row);
    for (let run = 1; run <= runs; run++) {
      const label = `[${index}/${selected.length}] ${def.name} run ${run}/${runs}`;
      process.stdout.write(`${label} ... `);
      const result = await runCase(def, run, settings, { keepLogs: opts.logs });
      row.runs.push(result);
      const a = result.analysis;
      const rec = a.recoveryMs.length === 0 ? '–' : `${Math.round(Math.max(...a.recoveryMs))} ms max (${a.recoveryMs.length})`;
      console.log(
        `${result.ok ? 'PASS' : 'FAIL'} ${(result.durationMs / 1000).toFixed(1)} s: streams ${a.streams}, lost ${a.lost}${a.vanished ? `, vanished ${a.vanished}` : ''}, entries ${a.entries.expected} (lost ${a.entries.lost}, twice ${a.entries.twice}, max ${a.entries.maxRepeatedPerTake}/${a.entries.bound} per take), dup ${a.duplicate.ms}/${a.duplicateBoundMs} ms, recovery ${rec}, settled in ${result.settleMs} ms`,
      );
      for (const n of result.notes) console.log(`      note: ${n}`);
      for (const f of result.failures) console.log(`      FAIL: ${f}`);
      if (a.duplicate.ms > 0) console.log(`      longest overlap: ${describeOverlap(a.duplicate)}`);
    }
  }

  const summaries = results.map((r) => (r.summary = summarise(r.def, r.runs)));
  console.log(`\n${table(summaries)}\n`);
  console.log('entries = entries of the finished streams\' data streams (consumeStream); twice = handled again after a take of the stream ended, max/take = the most one take left (bound: one commit batch);');
  console.log('dup max = longest time two consumer processes held one LBS entry at once (bound: one TTL + the injected pause);');
  console.log('recovery = fault injection to the next start of each stream whose processing the fault interrupted;');
  console.log('hand-out = XADD to first start, for streams added during the fault; vanished = entries lost with Redis\'s data (restart without persistence), not counted as lost.\n');
  for (const s of summaries) console.log(`${s.ok ? 'PASS' : 'FAIL'} ${s.case}: ${s.assertion}${s.ok ? '' : `\n${s.failures.map((f) => `      ${f}`).join('\n')}`}`);

  const file = join(__dirname, 'results.json');
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        startedAt: new Date(startedAt).toISOString(),
        durationMs: Date.now() - startedAt,
        quick: opts.quick,
        runsPerCase: runs,
        settings,
        host: { cpus: cpus().length, loadavg: loadavg(), node: process.version },
        ok: summaries.every((s) => s.ok),
        table: summaries,
        runs: results.flatMap((r) => r.runs),
      },
      null,
      1,
    )}\n`,
  );
  console.log(`\n${summaries.filter((s) => s.ok).length}/${summaries.length} rows pass; ${((Date.now() - startedAt) / 1000).toFixed(0)} s; results in ${file}`);
  return summaries.every((s) => s.ok) ? 0 : 1;
};

main().then(
  (code) => {
    killAll();
    process.exit(code);
  },
  (err: unknown) => {
    console.error(`chaos: ${err instanceof Error ? err.message : String(err)}`);
    killAll();
    process.exit(2);
  },
);
