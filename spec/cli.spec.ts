import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { expect } from 'chai';
import { lastValueFrom } from 'rxjs';
import { LBS_FIELD, addStream, deadLetterKey, groupName, lbsKey, lockKey } from '../lib';
import { EXIT, failure, parseCommand } from '../lib/cli/main';
import type { Snapshot } from '../lib/cli/snapshot';
import { streamStateKeys } from '../lib/cli/stream-state';
import { ChildConsumer } from '../support/child';
import { createGroup, readAsCrashedConsumer, sharedRedisUrl, sleep, streamName, useService, waitUntil } from '../support/service';

const MAIN = resolve(__dirname, '../lib/cli/main.ts');

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the CLI as a user would (`node --require tsx/cjs lib/cli/main.ts ...`); with `lines`, sends
 * SIGINT once that many lines came out; `onLine` sees every line as it comes.
 */
const cli = (args: readonly string[], { lines, onLine }: { lines?: number; onLine?: (line: string, interrupt: () => void) => void } = {}): Promise<Ran> =>
  new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', MAIN, ...args], { env: { ...process.env, REDIS_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const parts = (partial + d).split('\n');
      partial = parts.pop()!;
      for (const line of parts) onLine?.(line, () => child.kill('SIGINT'));
      if (lines !== undefined && stdout.split('\n').filter(Boolean).length >= lines) child.kill('SIGINT');
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });

const catching = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
};

const json = <T>(ran: Ran): T => {
  if (ran.code !== 0) throw new Error(`the CLI exited with ${ran.code}: ${ran.stderr}`);
  return JSON.parse(ran.stdout) as T;
};

describe('inspect CLI', () => {
  const hbInterval = 500;
  const t = useService('cli', { defaults: { hbInterval, lbsIdleTime: 60_000 } });
  const url = () => sharedRedisUrl();

  it('shows a running fleet as Redis holds it: consumers, owners, lock TTLs, positions and lag, LBS, dead letters (--json)', async () => {
    const a = t.consumer('a');
    const b = t.consumer('b');
    await sleep(200);
    for (let i = 0; i < 4; i++) await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, i) }));
    await t.admin.xadd(lbsKey(t.service), '*', LBS_FIELD, '{"broken"');
    await waitUntil(() => a.of('StreamAdded').length + b.of('StreamAdded').length === 4, 5000, 'four streams handed out');
    await waitUntil(async () => (await t.admin.xlen(deadLetterKey(t.service))) === 1, 5000, 'one dead letter');
    // One finished stream, and one stream with a fence and a committed position, 3 entries behind its last.
    const [done, positioned] = [...a.of('StreamAdded'), ...b.of('StreamAdded')].map((n) => n.payload);
    const finisher = a.of('StreamAdded').some((n) => n.payload.dataStreamName === done!.dataStreamName) ? a : b;
    await lastValueFrom(finisher.client.doneStream(done!.dataStreamName), { defaultValue: undefined });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await t.admin.xadd(positioned!.dataStreamName, '*', 'n', String(i)))!);
    const state = streamStateKeys(positioned!.dataStreamName, positioned!.idInLbs);
    await t.admin.set(state.fence, '7');
    await t.admin.set(state.committed, ids[1]!);

    const s = json<Snapshot>(await cli(['inspect', t.service, '--url', url(), '--json', '--hb-interval', String(hbInterval)]));

    // What Redis holds, read the other way round.
    const pending = (await t.admin.xpending(lbsKey(t.service), groupName(t.service), '-', '+', 100)) as [string, string, number, number][];
    expect(s.service).to.equal(t.service);
    expect(s.lbs).to.deep.equal({ key: lbsKey(t.service), group: groupName(t.service), groupExists: true, length: await t.admin.xlen(lbsKey(t.service)), pending: pending.length });
    expect(s.lbs.pending).to.equal(3);
    expect(s.streams.map((x) => x.idInLbs)).to.deep.equal(pending.map(([id]) => id));
    for (const x of s.streams) {
      const lock = lockKey(x.dataStreamName!, x.idInLbs);
      const [holder, entry] = [await t.admin.get(lock), pending.find(([id]) => id === x.idInLbs)!];
      expect(x).to.deep.include({ owner: holder, consumer: entry[1], state: 'owned' });
      expect(x.lockTtlMs).to.be.within(1, hbInterval);
    }
    const p = s.streams.find((x) => x.idInLbs === positioned!.idInLbs)!;
    expect(p).to.deep.include({ fence: '7', committed: ids[1], lastEntryId: ids[4], lag: 3, lagCapped: false });
    expect(s.streams.filter((x) => x !== p).every((x) => x.fence === undefined && x.committed === undefined && x.lag === undefined)).to.equal(true);

    const owners = new Map<string, number>();
    for (const x of s.streams) owners.set(x.owner!, (owners.get(x.owner!) ?? 0) + 1);
    expect(s.consumers.map((c) => c.name)).to.deep.equal([a.client.id, b.client.id]);
    for (const c of s.consumers) {
      expect(c).to.deep.include({ streamsOwned: owners.get(c.name) ?? 0, pending: owners.get(c.name) ?? 0, lockSet: (owners.get(c.name) ?? 0) > 0 });
      expect(c.status).to.equal((owners.get(c.name) ?? 0) > 0 ? 'live' : 'idle');
      if (c.streamsOwned > 0) expect(c.lastHeartbeatAgoMs).to.be.within(0, hbInterval);
    }
    expect(s.deadLetters.count).to.equal(1);
    expect(s.deadLetters.newest[0]).to.deep.include({ reason: 'not JSON', fields: { [LBS_FIELD]: '{"broken"' } });
    expect([a.client.id, b.client.id]).to.include(s.deadLetters.newest[0]!.consumer);

    // The text view names the same things.
    const text = await cli(['inspect', t.service, '--url', url()]);
    expect(text.code).to.equal(0);
    for (const x of s.streams) expect(text.stdout).to.include(x.dataStreamName!).and.include(x.owner!);
    expect(text.stdout).to.include('3 pending').and.include('not JSON').and.include('lag');
  });

  it('shows a Go-only fleet (locks without lock sets or deadlines): a live consumer and an overdue one', async () => {
    await createGroup(t.admin, t.service);
    const entries: string[] = [];
    for (let i = 0; i < 3; i++) entries.push(await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, i) })));
    // go-1 reads two entries and locks them, as the Go library does, and keeps extending them; go-2 read one and died before locking.
    await readAsCrashedConsumer(t.admin, t.service, 'redis-consumer-go-1', 2);
    await readAsCrashedConsumer(t.admin, t.service, 'redis-consumer-go-2', 1);
    const goLocks = entries.slice(0, 2).map((id, i) => lockKey(streamName(t.service, i), id));
    for (const key of goLocks) await t.admin.set(key, 'redis-consumer-go-1', 'PX', 2000);
    const heartbeat = setInterval(() => goLocks.forEach((key) => void t.admin.pexpire(key, 2000)), 200);
    t.onTeardown(() => clearInterval(heartbeat));

    const s = json<Snapshot>(await cli(['inspect', t.service, '--url', url(), '--json']));
    expect(s.consumers.map(({ name, status, streamsOwned, pending, lockSet, deadline }) => ({ name, status, streamsOwned, pending, lockSet, deadline }))).to.deep.equal([
      { name: 'redis-consumer-go-1', status: 'live', streamsOwned: 2, pending: 2, lockSet: false, deadline: null },
      { name: 'redis-consumer-go-2', status: 'overdue', streamsOwned: 0, pending: 1, lockSet: false, deadline: null },
    ]);
    expect(s.consumers[0]!.lastHeartbeatAgoMs).to.be.within(0, 1000);
    expect(s.consumers[1]!.lastHeartbeat).to.equal(null);
    expect(s.streams.map(({ dataStreamName, idInLbs, consumer, owner, state }) => ({ dataStreamName, idInLbs, consumer, owner, state }))).to.deep.equal([
      { dataStreamName: streamName(t.service, 0), idInLbs: entries[0], consumer: 'redis-consumer-go-1', owner: 'redis-consumer-go-1', state: 'owned' },
      { dataStreamName: streamName(t.service, 1), idInLbs: entries[1], consumer: 'redis-consumer-go-1', owner: 'redis-consumer-go-1', state: 'owned' },
      { dataStreamName: streamName(t.service, 2), idInLbs: entries[2], consumer: 'redis-consumer-go-2', owner: null, state: 'unlocked' },
    ]);
    expect(s.streams[0]!.lockTtlMs).to.be.within(1, 2000);
    expect(s.streams[2]!.lockTtlMs).to.equal(null);
  });

  it('shows a consumer in a child process stalled with SIGSTOP as overdue, its streams unlocked, and live again after SIGCONT', async function () {
    this.timeout(40_000);
    const a = new ChildConsumer({ redisUrl: sharedRedisUrl(), service: t.service, pod: 'a', hbInterval, lbsIdleTime: 60_000 });
    t.onTeardown(() => a.kill());
    await a.waitFor('ready');
    for (let i = 0; i < 2; i++) await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, i) }));
    await waitUntil(() => a.owned().size === 2, 10_000, 'a owns both streams');
    const inspect = async () => json<Snapshot>(await cli(['inspect', t.service, '--url', url(), '--json', '--hb-interval', String(hbInterval)]));
    const view = (s: Snapshot) => ({ status: s.consumers[0]!.status, owned: s.consumers[0]!.streamsOwned, states: s.streams.map((x) => x.state) });

    const live = await inspect();
    expect(view(live)).to.deep.equal({ status: 'live', owned: 2, states: ['owned', 'owned'] });
    const locks = live.streams.map((x) => lockKey(x.dataStreamName!, x.idInLbs));
    a.signal('SIGSTOP');
    try {
      await waitUntil(async () => (await t.admin.exists(...locks)) === 0, 5000, 'the stalled locks expired');
      const stalled = await inspect();
      expect(view(stalled)).to.deep.equal({ status: 'overdue', owned: 0, states: ['unlocked', 'unlocked'] });
      expect(stalled.consumers[0]!.deadline).to.be.a('string');
      expect(new Date(stalled.consumers[0]!.deadline!).getTime()).to.be.below(new Date(stalled.at).getTime());
    } finally {
      a.signal('SIGCONT');
    }
    await waitUntil(async () => (await t.admin.exists(...locks)) === 2, 10_000, 'a re-took its locks');
    expect(view(await inspect())).to.deep.equal({ status: 'live', owned: 2, states: ['owned', 'owned'] });
  });

  it('requeues a dead letter whose cause is gone: the fleet is handed it again', async () => {
    const a = t.consumer('a');
    await sleep(200);
    const name = streamName(t.service, 'dup');
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: name, info: { n: 1 } }));
    await a.waitFor('StreamAdded', 1);
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: name, info: { n: 2 } })); // the same data stream: a duplicate
    await waitUntil(async () => (await t.admin.xlen(deadLetterKey(t.service))) === 1, 5000, 'the duplicate dead-lettered');
    await t.admin.xadd(lbsKey(t.service), '*', LBS_FIELD, 'not json at all');
    await waitUntil(async () => (await t.admin.xlen(deadLetterKey(t.service))) === 2, 5000, 'the bad entry dead-lettered');

    const list = json<{ deadLetters: { id: string; reason: string }[] }>(await cli(['dead-letters', t.service, 'list', '--url', url(), '--json']));
    expect(list.deadLetters.map((d) => d.reason)).to.deep.equal([list.deadLetters[0]!.reason, 'not JSON']);
    expect(list.deadLetters[0]!.reason).to.match(/^duplicate/);
    const [duplicate, broken] = list.deadLetters;

    // Still malformed: refused, and left where it is.
    const refused = await cli(['dead-letters', t.service, 'requeue', broken!.id, '--url', url()]);
    expect(refused.code).to.equal(EXIT.refused);
    expect(refused.stderr).to.include('still invalid').and.include('not JSON');
    expect(await t.admin.xlen(deadLetterKey(t.service))).to.equal(2);

    // The first entry done, the duplicate goes back in and is handed out with its own Info.
    await lastValueFrom(a.client.doneStream(name), { defaultValue: undefined });
    const requeued = await cli(['dead-letters', t.service, 'requeue', duplicate!.id, '--url', url()]);
    expect(requeued.code, requeued.stderr).to.equal(EXIT.ok);
    expect(requeued.stdout).to.include(`requeued dead letter ${duplicate!.id}`);
    await a.waitFor('StreamAdded', 2);
    expect(a.of('StreamAdded')[1]).to.deep.include({ additionalInfo: { n: 2 } });
    expect(((await t.admin.xrange(deadLetterKey(t.service), '-', '+')) as [string, string[]][]).map(([id]) => id)).to.deep.equal([broken!.id]);

    const missing = await cli(['dead-letters', t.service, 'requeue', duplicate!.id, '--url', url()]);
    expect(missing.code).to.equal(EXIT.notFound);
    expect(missing.stderr).to.include(`No dead letter ${duplicate!.id}`);
  });

  it('redraws every second with --watch and stops on Ctrl-C', async () => {
    t.consumer('a');
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, 1) }));
    const started = Date.now();
    const ran = await cli(['inspect', t.service, '--url', url(), '--json', '--watch'], { lines: 2 });
    expect(ran.code).to.equal(0);
    const docs = ran.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Snapshot);
    expect(docs.length).to.be.at.least(2);
    expect(new Date(docs[1]!.at).getTime() - new Date(docs[0]!.at).getTime()).to.be.within(900, 3000);
    expect(Date.now() - started).to.be.below(10_000);
  });

  it('--watch shows Redis going away and comes back with it', async () => {
    const server = await t.privateServer();
    await createGroup(t.admin, t.service);
    const seen: string[] = [];
    let phase: 'up' | 'down' | 'back' = 'up';
    const ran = await cli(['inspect', t.service, '--url', server.url, '--json', '--watch'], {
      onLine: (line, interrupt) => {
        const doc = JSON.parse(line) as { error?: string; service?: string };
        seen.push(doc.error === undefined ? `${phase}:ok` : `${phase}:error`);
        if (phase === 'up' && doc.error === undefined) {
          phase = 'down';
          void server.kill();
        } else if (phase === 'down' && doc.error !== undefined) {
          phase = 'back';
          void server.boot().then(() => createGroup(t.admin, t.service));
        } else if (phase === 'back' && doc.error === undefined) interrupt();
      },
    });
    expect(ran.code, ran.stderr).to.equal(0);
    expect(seen[0]).to.equal('up:ok');
    expect(seen).to.include('down:error');
    expect(seen[seen.length - 1]).to.equal('back:ok');
  });

  it('exits with a clear message: no Redis (1), bad arguments (2), unknown service (3)', async () => {
    await createGroup(t.admin, t.service);
    const noRedis = await cli(['inspect', t.service, '--url', 'redis://127.0.0.1:1']);
    expect([noRedis.code, noRedis.stderr]).to.deep.equal([EXIT.failed, `redis-stream-client-rx: Cannot reach Redis at redis://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1. Start it, or pass --url (or set REDIS_URL).\n`]);

    const unknown = await cli(['inspect', `${t.service}-typo`, '--url', url()]);
    expect(unknown.code).to.equal(EXIT.notFound);
    expect(unknown.stderr).to.include(`No service "${t.service}-typo" in this Redis: ${t.service}-typo-input does not exist.`);

    // Bad arguments: each one checked in this process, one of them as a process (its exit code).
    for (const args of [[], ['inspect'], ['frobnicate', 'x'], ['inspect', 'x', '--url', 'localhost:6379'], ['inspect', 'x', '--hb-interval', '0'], ['inspect', 'x', '--nope'], ['inspect', 'x', 'y'], ['dead-letters', 'x', '--watch'], ['dead-letters', 'x', 'requeue'], ['dead-letters', 'x', 'requeue', 'abc'], ['dead-letters', 'x', 'purge']]) {
      const { code, message } = failure(catching(() => parseCommand(args, {})));
      expect(code, args.join(' ')).to.equal(EXIT.usage);
      expect(message, args.join(' ')).to.match(/^[^\n]+\n\nUsage:/);
    }
    const bad = await cli(['inspect', 'x', '--url', 'localhost:6379']);
    expect([bad.code, bad.stderr.split('\n')[0]]).to.deep.equal([EXIT.usage, 'redis-stream-client-rx: --url must be a redis:// or rediss:// URL (got "localhost:6379").']);
    expect(parseCommand(['--help'], {})).to.deep.equal({ kind: 'help' });
  });
});
