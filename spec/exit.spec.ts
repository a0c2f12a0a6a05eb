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
});
