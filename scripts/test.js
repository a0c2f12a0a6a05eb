#!/usr/bin/env node
// `npm test`: type-checks everything, then runs four passes, two at a time, then the fleet pass (the timing-sensitive
// chaos and failover specs do not stand more on a 2-core machine), each in its own mocha process
// with its own Redis (see spec/helpers/provision.ts), and prints each pass's output when it ends:
//   ioredis 5   unit and marble specs, and the specs against real Redis (the lock file's ioredis)
//   ioredis 6   the specs against real Redis again, with `ioredis` resolved to ioredis 6
//               (the `ioredis6` dev dependency, npm:ioredis@6; support/ioredis-major.js)
//   packaging   npm pack, the tarball installed into a temporary app (packaging/)
//   cluster     the real-Redis specs that matter (hand-out, claims and heartbeat, recovery, dead
//               letters, operators, crashes) again on a local Redis Cluster of 3 primaries and 3
//               replicas, and the Cluster fault specs (spec/cluster/); needs a redis-server binary
//   fleet       the balanced-fleet, mass-failover and Go-fleet specs (consumer processes racing), alone at the end
// Flags: --only <pass>[,<pass>] runs those passes; --jobs N runs N at a time (default 2); extra
// arguments go to every mocha.
const { spawn, spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const mocha = path.join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
const realRedisSpecs = 'spec/**/*.spec.ts';

const PASSES = [
  { name: 'ioredis 5', args: ['unit/**/*.spec.ts', 'marbles/**/*.spec.ts', realRedisSpecs], env: { RSCRX_IOREDIS: '5' } },
  { name: 'ioredis 6', args: [realRedisSpecs], env: { RSCRX_IOREDIS: '6' } },
  { name: 'packaging', args: ['packaging/**/*.spec.ts'], env: {} },
  {
    name: 'cluster',
    args: [
      '--no-config', '--require', 'tsx/cjs', '--require', 'spec/helpers/hooks.ts', '--extension', 'ts', '--timeout', '30000',
      '--reporter', 'spec/helpers/reporter.js',
      'spec/distribution.spec.ts', 'spec/ownership.spec.ts', 'spec/recovery.spec.ts', 'spec/bad-entries.spec.ts',
      'spec/operators.spec.ts', 'spec/crash.spec.ts', 'spec/cluster/**/*.spec.ts',
    ],
    env: { RSCRX_CLUSTER: '1' },
    needsRedisServer: true,
  },
  // Consumer processes racing each other (four moving 1,000 streams; three sharing a dead one's
  // 2,000; ours against the Go-behaviour twin), judged by who ends up holding what: run once the other passes are done, so that they do
  // not share the two cores with them.
  {
    name: 'fleet',
    args: ['--no-config', '--require', 'tsx/cjs', '--require', 'spec/helpers/hooks.ts', '--extension', 'ts', '--timeout', '20000', '--reporter', 'spec/helpers/reporter.js', 'spec/fleet.spec.ts', 'spec/fleet-failover.spec.ts', 'spec/go-fleet.spec.ts'],
    env: {},
    alone: true,
  },
];

const argv = process.argv.slice(2);
const onlyAt = argv.indexOf('--only');
const only = onlyAt >= 0 ? argv.splice(onlyAt, 2)[1].split(',') : undefined;
const jobsAt = argv.indexOf('--jobs');
const jobs = jobsAt >= 0 ? Math.max(1, Number(argv.splice(jobsAt, 2)[1])) : 2;
const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;
const passes = PASSES.filter((p) => only === undefined || only.some((o) => p.name.replace(' ', '').includes(o.replace(' ', '')))).filter((p) => {
  if (!p.needsRedisServer || hasRedisServer) return true;
  console.log(`${p.name}: skipped, no redis-server binary to start it with (apt-get install redis-server)`);
  return false;
});

// The project's own TypeScript (never `npx tsc`, which fetches an unrelated "tsc" package when
// node_modules is missing): say what to run instead.
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
} catch {
  console.error('npm test: TypeScript is not installed here; run `npm ci` (or `npm install`) first.');
  process.exit(1);
}
const typecheck = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--noEmit'], { cwd: root, stdio: 'inherit' });
if (typecheck.status !== 0) process.exit(typecheck.status ?? 1);

const started = Date.now();
// Progress while the passes run (each prints its whole output when it ends): every 30 s, the passes
// under way, how long they have run and how many specs have passed so far.
const running = new Map();
const progress = setInterval(() => {
  const lines = [...running].map(([name, { t0, out }]) => `${name} ${((Date.now() - t0) / 1000).toFixed(0)} s, ${(Buffer.concat(out).toString().match(/\u2714/g) ?? []).length} passed`);
  if (lines.length > 0) console.log(`[npm test ${((Date.now() - started) / 1000).toFixed(0)} s] running: ${lines.join('; ')}`);
}, 30_000);
const run = (pass) =>
  new Promise((resolve) => {
    const t0 = Date.now();
    console.log(`[npm test] ${pass.name}: started`);
    const child = spawn(process.execPath, [mocha, ...pass.args, ...argv], {
      cwd: root,
      env: { ...process.env, ...pass.env, FORCE_COLOR: process.stdout.isTTY ? '1' : '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = [];
    running.set(pass.name, { t0, out });
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => out.push(d));
    child.on('close', (code, signal) => {
      running.delete(pass.name);
      const text = Buffer.concat(out).toString();
      const totals = /(\d+) passed, (\d+) failed, (\d+) skipped\s*$/.exec(text)?.[0] ?? `no totals (exit ${signal ?? code})`;
      process.stdout.write(`\n===== ${pass.name} =====\n${text}`);
      // The failing specs' titles and first error lines, repeated in the summary: a CI log is often
      // read from its end.
      const failing = /\n\s*\d+ failing\n([\s\S]*)/.exec(text)?.[1] ?? '';
      // Each failure: its numbered title, then its next four non-blank lines (the rest of the title, the message).
      const failures = [];
      let after = -1;
      for (const line of failing.split('\n')) {
        if (/^\s+\d+\) /.test(line)) after = 0;
        else if (after < 0 || after >= 4 || line.trim() === '' || /^\s+at /.test(line) || /\d+ passed, \d+ failed/.test(line)) continue;
        else after++;
        if (failures.length < 40) failures.push(`       ${line.trim()}`);
      }
      // Mocha sets the exit code from its failure count as the process exits, over the root hook's
      // exit(1) for a run kept up after its last spec: read the hook's words, and want the totals.
      const kept = /^.*counted as a failure.*$/m.exec(text);
      if (kept !== null) failures.push(`       ${kept[0].trim()}`);
      const ok = code === 0 && kept === null && /\b0 failed\b/.test(totals);
      resolve({ name: pass.name, ok, totals, failures, seconds: ((Date.now() - t0) / 1000).toFixed(0) });
    });
  });

const queue = passes.filter((p) => !p.alone);
const results = [];
const worker = async () => {
  for (let pass = queue.shift(); pass !== undefined; pass = queue.shift()) results.push(await run(pass));
};

Promise.all(Array.from({ length: jobs }, worker)).then(async () => {
  for (const pass of passes.filter((p) => p.alone)) results.push(await run(pass));
  clearInterval(progress);
  console.log(`\n===== summary (${((Date.now() - started) / 1000).toFixed(0)} s) =====`);
  for (const r of results) {
    console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name.padEnd(10)} ${r.totals.trim()} (${r.seconds} s)`);
    if (!r.ok) for (const line of r.failures) console.log(line);
  }
  process.exit(results.every((r) => r.ok) ? 0 : 1);
});
