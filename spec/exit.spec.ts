import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { sharedRedisUrl, useService } from '../support/service';

describe('shutdown', () => {
  const t = useService('exit');

  it('lets the process exit by itself after done(): no timer, connection or subscription left', async () => {
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', join(__dirname, 'fixtures', 'exit-after-done.ts')], {
      env: { ...process.env, REDIS_URL: sharedRedisUrl(), SERVICE: t.service },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null | 'hung'>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve('hung');
      }, 15_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(out.trim()).to.equal('done');
    expect(code).to.equal(0);
    expect(await t.admin.xlen(`${t.service}-input`)).to.equal(0);
  });

  it('leaves no ioredis timer behind when done() comes while its connections are still starting (0 to 60 ms after init())', async function () {
    this.timeout(120_000);
    const delays = Array.from({ length: 13 }, (_, i) => i * 5);
    // Four at a time: each is a Node process compiling the library.
    const runs: { ms: number; left: string; code: number | 'hung' }[] = [];
    const queue = [...delays];
    const worker = async (): Promise<void> => {
      for (let ms = queue.shift(); ms !== undefined; ms = queue.shift()) runs.push(await exitAfter(ms));
    };
    const exitAfter = (ms: number): Promise<{ ms: number; left: string; code: number | 'hung' }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, ['--require', 'tsx/cjs', join(__dirname, 'fixtures', 'exit-soon-after-init.ts')], {
          env: { ...process.env, REDIS_URL: sharedRedisUrl(), SERVICE: `${t.service}-${ms}`, DONE_AFTER_MS: String(ms) },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ ms, left: out.trim(), code: code ?? 'hung' });
        });
      });
    await Promise.all([worker(), worker(), worker(), worker()]);
    runs.sort((a, b) => a.ms - b.ms);
    // Once every socket is closed, nothing may keep the process alive: no ioredis disconnect timer, no connection.
    expect(runs.map(({ ms, left, code }) => `${ms} ms: ${code} ${left}`)).to.deep.equal(delays.map((ms) => `${ms} ms: 0 []`));
  });
});
