#!/usr/bin/env node
// `npm run build`: the package's dist/, CommonJS and ES modules from one compilation.
//
//   dist/**/*.js, *.d.ts   tsc (tsconfig.build.json): the CommonJS build and the declarations
//   dist/redis/lua/        the Lua scripts and their include/ snippets (loaded by lib/redis/scripts.ts)
//   dist/<entry>.mjs       per entry point, an ES module re-exporting the CommonJS build by name
//   dist/<entry>.d.mts     its declarations (`export * from './<entry>.js'`)
//
// The ES entry re-exports the CommonJS code instead of being a second copy of it, so an app that
// reaches the package through both `import` and `require` (its own code and a dependency) still
// has one RedisStreamClient class, one set of error classes (`instanceof` holds) and one script
// registration per connection.
//
// Entry points and commands are listed once, here. One whose source file does not exist is not
// built; one that exists must also be in package.json ("exports" / "bin"): the build says what to
// add when it is missing.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist');

/** Entry points: package subpath -> source under lib/. */
const ENTRIES = [
  { subpath: '.', source: 'lib/index.ts' },
  { subpath: './otel', source: 'lib/otel/index.ts' }, // the OpenTelemetry recorder
];
/** Commands (package.json "bin"): name -> source under lib/. */
const BINS = [
  { name: 'redis-stream-client-rx', source: 'lib/cli/main.ts' }, // the inspect CLI
];

const exists = (source) => fs.existsSync(path.join(root, source));
/** `lib/otel/index.ts` -> `dist/otel/index` (no extension). */
const built = (source) => path.posix.join('dist', source.replace(/^lib\//, '').replace(/\.ts$/, ''));

/** What package.json must say for the entries and commands that exist. */
const expected = () => ({
  exports: Object.fromEntries(
    ENTRIES.filter((e) => exists(e.source)).map((e) => {
      const out = `./${built(e.source)}`;
      return [e.subpath, { import: { types: `${out}.d.mts`, default: `${out}.mjs` }, require: { types: `${out}.d.ts`, default: `${out}.js` } }];
    }),
  ),
  bin: Object.fromEntries(BINS.filter((b) => exists(b.source)).map((b) => [b.name, `${built(b.source)}.js`])),
});

/** Differences between package.json and `expected()`, as lines to act on (none: in sync). */
const checkPackageJson = () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const want = expected();
  const problems = [];
  for (const [subpath, value] of Object.entries(want.exports)) {
    if (JSON.stringify(pkg.exports?.[subpath]) !== JSON.stringify(value)) problems.push(`package.json "exports": set ${JSON.stringify(subpath)}: ${JSON.stringify(value)}`);
  }
  for (const [name, file] of Object.entries(want.bin)) {
    if (pkg.bin?.[name] !== file) problems.push(`package.json "bin": set ${JSON.stringify(name)}: ${JSON.stringify(file)}`);
  }
  return problems;
};

/** The names a built CommonJS module exports (its values: types have no runtime name). */
const exportNames = (file) => {
  const out = execFileSync(process.execPath, ['-e', `process.stdout.write(JSON.stringify(Object.keys(require(${JSON.stringify(file)}))))`], { cwd: root });
  return JSON.parse(out.toString()).filter((n) => n !== '__esModule' && n !== 'default');
};

const esmWrapper = (base, names) =>
  [
    `// ES module entry: the CommonJS build (${base}.js) re-exported by name (see scripts/build.js).`,
    `import cjs from './${base}.js';`,
    '',
    names.length > 0 ? `export const {\n${names.map((n) => `  ${n},`).join('\n')}\n} = cjs;` : '',
    '',
  ].join('\n');

const main = () => {
  const problems = checkPackageJson();
  if (problems.length > 0) {
    console.error(`build: package.json is out of step with the entry points in scripts/build.js:\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  fs.rmSync(dist, { recursive: true, force: true });
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  fs.cpSync(path.join(root, 'lib', 'redis', 'lua'), path.join(dist, 'redis', 'lua'), {
    recursive: true,
    filter: (src) => fs.statSync(src).isDirectory() || src.endsWith('.lua'),
  });
  for (const entry of ENTRIES.filter((e) => exists(e.source))) {
    const out = path.join(root, built(entry.source));
    const base = path.basename(out);
    fs.writeFileSync(`${out}.mjs`, esmWrapper(base, exportNames(`${out}.js`)));
    fs.writeFileSync(`${out}.d.mts`, `export * from './${base}.js';\n`);
  }
  for (const bin of BINS.filter((b) => exists(b.source))) {
    const file = path.join(root, `${built(bin.source)}.js`);
    const code = fs.readFileSync(file, 'utf8');
    if (!code.startsWith('#!')) fs.writeFileSync(file, `#!/usr/bin/env node\n${code}`);
    fs.chmodSync(file, 0o755);
  }
};

if (require.main === module) main();
module.exports = { ENTRIES, BINS, expected, checkPackageJson };
