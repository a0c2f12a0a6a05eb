import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { sharedRedisUrl, uniqueService } from '../support/service';

/**
 * The package as a new user gets it: `npm pack`, the tarball installed into an app of its own
 * next to ioredis (6, what `npm install ioredis` gives, and 5 under an alias) and rxjs, then used
 * from CommonJS, from an ES module and from TypeScript under `node16` and `bundler` resolution.
 */
const root = join(__dirname, '..');
const build = require('../scripts/build.js') as { expected(): { exports: Record<string, unknown>; bin: Record<string, string> } };
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, any>;
const version = (name: string): string => (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
/** Every value the package exports (types are checked by the TypeScript consumers). */
const publicValues = Object.keys(require('../lib/index')).filter((n) => n !== '__esModule').sort();

const run = (cwd: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): string =>
  execFileSync(cmd, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });

const node = (cwd: string, file: string): string => run(cwd, process.execPath, [file], { REDIS_URL: sharedRedisUrl(), NODE_OPTIONS: '' });

/** Hands one stream to a consumer, finishes it and stops: proves the scripts (Lua files) load from the installed package. */
const roundTrip = (lib: string, redis: string) => `
const redis = new ${redis}(process.env.REDIS_URL);
const service = ${JSON.stringify(uniqueService('pack'))} + '-' + process.pid;
const client = new ${lib}.RedisStreamClient(redis, service, { consumerId: 'packed' });
const sub = client.init().subscribe((n) => {
  if (n.type !== 'StreamAdded') return;
  client.doneStream(n.payload.dataStreamName).subscribe({
    complete: () => client.done().subscribe({ complete: async () => { sub.unsubscribe(); await redis.del(service + '-input', service + '-deadlines', service + '-names', service + '-epoch'); await redis.quit(); console.log('round trip ok'); } }),
  });
});
${lib}.addStream(redis, service, { dataStreamName: service + ':s1', info: { a: 1 } }).subscribe();
`;

describe('the packed package, installed into a new app', function () {
  this.timeout(300_000);
  let dir: string;
  let app: string;
  let tarball: string;
  let files: string[];

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'rscrx-pack-'));
    const [packed] = JSON.parse(run(root, 'npm', ['pack', '--json', '--pack-destination', dir], { NODE_OPTIONS: '' }).replace(/^[^[]*/, '')) as [{ filename: string; files: { path: string }[] }];
    tarball = join(dir, packed.filename);
    files = packed.files.map((f) => f.path).sort();
    app = join(dir, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'new-app', version: '1.0.0', private: true }));
    run(app, 'npm', [
      'install', '--no-audit', '--no-fund', '--prefer-offline', tarball,
      `ioredis@${version('ioredis6')}`, `ioredis5@npm:ioredis@${version('ioredis')}`, `rxjs@${version('rxjs')}`, `@types/node@${version('@types/node')}`,
    ], { NODE_OPTIONS: '' });
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('the tarball', () => {
    it('holds the built code, the declarations, the Lua scripts, README and LICENSE', () => {
      for (const f of ['README.md', 'LICENSE', 'package.json', 'dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/index.d.mts', 'dist/redis/lua/claim-n.lua']) expect(files).to.include(f);
      const lua = readdirLua(join(root, 'lib', 'redis', 'lua'));
      for (const f of lua) expect(files, f).to.include(`dist/redis/lua/${f}`);
    });

    it('holds nothing of the tests, benchmarks, chaos suite, demo or examples, and no source maps', () => {
      const stray = files.filter((f) => /^(spec|unit|marbles|packaging|bench|chaos|demo|examples|support|scripts|docs|lib)\//.test(f) || f.endsWith('.map') || f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.endsWith('.d.mts'));
      expect(stray).to.deep.equal([]);
      const inApp = join(app, 'node_modules', 'redis-stream-client-rx');
      for (const f of files.filter((x) => x.endsWith('.js') || x.endsWith('.mjs'))) {
        expect(readFileSync(join(inApp, f), 'utf8'), f).not.to.match(/sourceMappingURL/);
      }
    });

    it('has no install script; ioredis and rxjs as peer dependencies, @opentelemetry/api an optional one', () => {
      const shipped = JSON.parse(readFileSync(join(app, 'node_modules', 'redis-stream-client-rx', 'package.json'), 'utf8')) as Record<string, any>;
      expect(Object.keys(shipped.scripts ?? {}).filter((s) => /^(pre|post)?(install|prepare)$/.test(s))).to.deep.equal([]);
      expect(shipped.license).to.equal('Apache-2.0');
      expect(shipped.dependencies).not.to.have.any.keys('ioredis', 'rxjs');
      expect(shipped.peerDependencies).to.have.all.keys('ioredis', 'rxjs', '@opentelemetry/api');
      expect(shipped.peerDependenciesMeta).to.deep.equal({ '@opentelemetry/api': { optional: true } });
      // One copy of each in the app: the app's.
      expect(() => require.resolve('ioredis', { paths: [join(app, 'node_modules', 'redis-stream-client-rx')] })).not.to.throw();
      expect(require.resolve('ioredis', { paths: [join(app, 'node_modules', 'redis-stream-client-rx')] })).to.equal(join(app, 'node_modules', 'ioredis', 'built', 'index.js'));
    });

    it('exports every entry point and command listed in scripts/build.js whose source exists', () => {
      const { exports, bin } = build.expected();
      for (const [subpath, value] of Object.entries(exports)) expect(pkg.exports[subpath], subpath).to.deep.equal(value);
      for (const [name, file] of Object.entries(bin)) {
        expect(pkg.bin?.[name], name).to.equal(file);
        expect(files).to.include(file);
      }
    });
  });

  describe('at run time', () => {
    it('is required from CommonJS, with every public export, and runs against Redis (ioredis 6)', () => {
      writeFileSync(join(app, 'cjs.cjs'), `
const lib = require('redis-stream-client-rx');
const Redis = require('ioredis');
const names = ${JSON.stringify(publicValues)};
const missing = names.filter((n) => lib[n] === undefined);
if (missing.length) throw new Error('missing: ' + missing.join(', '));
${roundTrip('lib', 'Redis')}`);
      expect(node(app, 'cjs.cjs')).to.contain('round trip ok');
    });

    it('is imported from an ES module with named imports of every public export (ioredis 5), the same classes as require gives', () => {
      writeFileSync(join(app, 'esm.mjs'), `
import { createRequire } from 'node:module';
import { ${publicValues.join(', ')} } from 'redis-stream-client-rx';
import * as lib from 'redis-stream-client-rx';
import { Redis } from 'ioredis5';
const cjs = createRequire(import.meta.url)('redis-stream-client-rx');
if (cjs.RedisStreamClient !== RedisStreamClient || cjs.AlreadyClaimedError !== AlreadyClaimedError) throw new Error('two copies of the package');
void [${publicValues.join(', ')}];
${roundTrip('lib', 'Redis')}`);
      expect(node(app, 'esm.mjs')).to.contain('round trip ok');
    });
  });

  describe('in TypeScript', () => {
    const consumer = `
import { Redis } from 'ioredis';
import { Redis as Redis5 } from 'ioredis5';
import { lastValueFrom, mergeMap, of } from 'rxjs';
import {
  RedisStreamClient, addStream, claimExpired, ofType, processStreams, retryWithBackoff, backoffDelay,
  AlreadyClaimedError, InvalidOptionsError, MUTEX_KEY_SEP, lockKey,
  type Notification, type ClientOptions, type RedisLike, type StreamOutcome,
} from 'redis-stream-client-rx';

const redis6 = new Redis({ lazyConnect: true });
const resp3 = new Redis({ lazyConnect: true, protocol: 3, replyMapping: 'resp3' });
const redis5 = new Redis5({ lazyConnect: true });
const options: ClientOptions = { consumerId: 'c1', hbInterval: 2000 };
const client = new RedisStreamClient(redis6, 'svc', options);
new RedisStreamClient(redis5, 'svc', options);
new RedisStreamClient(resp3, 'svc', options);
const asLike: RedisLike = redis5;
void asLike;
const id: Promise<string> = lastValueFrom(addStream(redis6, 'svc', { dataStreamName: 's1', info: { a: 1 } }));
void lastValueFrom(addStream(redis5, 'svc', { dataStreamName: 's2' }));
const outcomes = client.init().pipe(
  claimExpired(client),
  processStreams(client, () => of(1), { concurrency: 2 }),
  retryWithBackoff({ maxRetries: 1, initialDelay: 100, maxDelay: 1000 }),
);
outcomes.subscribe((o: StreamOutcome) => void o.type);
client.init().pipe(ofType('StreamAdded'), mergeMap((n) => of(n.payload.dataStreamName))).subscribe();
const n: Notification | undefined = undefined;
void n;
const e: unknown = new AlreadyClaimedError('s1', '1-0');
if (e instanceof InvalidOptionsError) void e.code;
const ms: number = backoffDelay(1, { initialDelay: 100, maxDelay: 1000 });
const key: string = lockKey('s', '1-0') + MUTEX_KEY_SEP;
void [id, ms, key];
`;
    const tsc = (project: string): string => {
      try {
        return run(app, process.execPath, [require.resolve('typescript/bin/tsc'), '-p', project], { NODE_OPTIONS: '' });
      } catch (err) {
        throw new Error(`tsc -p ${project}:\n${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`);
      }
    };
    const common = { strict: true, noEmit: true, skipLibCheck: false, target: 'ES2022', types: ['node'] };

    it('type-checks a consumer under moduleResolution node16, as an ES module and as CommonJS', () => {
      writeFileSync(join(app, 'consumer.mts'), consumer);
      writeFileSync(join(app, 'consumer.cts'), consumer);
      writeFileSync(join(app, 'tsconfig.node16.json'), JSON.stringify({ compilerOptions: { ...common, module: 'node16', moduleResolution: 'node16' }, files: ['consumer.mts', 'consumer.cts'] }));
      tsc('tsconfig.node16.json');
    });

    it('type-checks a consumer under moduleResolution bundler', () => {
      writeFileSync(join(app, 'consumer.ts'), consumer);
      writeFileSync(join(app, 'tsconfig.bundler.json'), JSON.stringify({ compilerOptions: { ...common, module: 'esnext', moduleResolution: 'bundler' }, files: ['consumer.ts'] }));
      tsc('tsconfig.bundler.json');
    });
  });
});

function readdirLua(dir: string, prefix = ''): string[] {
  const { readdirSync, statSync } = require('node:fs') as typeof import('node:fs');
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return readdirLua(full, `${prefix}${name}/`);
    return name.endsWith('.lua') ? [`${prefix}${name}`] : [];
  });
}
