import { expect } from 'chai';
import { lastValueFrom } from 'rxjs';
import { MUTEX_KEY_SEP, serviceKeys } from '../lib/keys';
import { LockStatus } from '../lib/port';
import { RedisPort } from '../lib/redis/store';
import { sleep, useService } from '../support/service';

// The deadline (a consumer's earliest lock expiry, which the reaper acts on) moves with a tick that
// extends every lock, and not with one that extends only the locks taken while an older call is
// still in flight: the older locks may expire first.
describe("a consumer's deadline and the heartbeat's calls", () => {
  const t = useService('deadline');

  it('is replaced by a call of every lock, and kept by a call of only the newer locks', async () => {
    const owner = 'redis-consumer-deadline';
    const keys = serviceKeys(t.service);
    const port = new RedisPort(t.connect(), keys, owner, 10_000);
    const [older, newer] = ['s1', 's2'].map((name, i) => `${t.service}:${name}${MUTEX_KEY_SEP}${i + 1}-0`) as [string, string];
    for (const key of [older, newer]) await t.admin.set(key, owner, 'PX', 10_000);
    const deadline = async () => Number(await t.admin.zscore(keys.deadlines, owner));

    const first = await lastValueFrom(port.extendLocks([older], ''));
    expect(first.statuses).to.deep.equal([LockStatus.Extended]);
    const d1 = await deadline();
    expect(d1).to.be.greaterThan(0);
    await sleep(30);
    const partial = await lastValueFrom(port.extendLocks([newer], '', [], undefined, true));
    expect(partial.statuses).to.deep.equal([LockStatus.Extended]);
    expect(await deadline(), 'after the call of the newer lock only').to.equal(d1);
    await sleep(30);
    await lastValueFrom(port.extendLocks([older, newer], ''));
    expect(await deadline(), 'after a call of every lock').to.be.greaterThan(d1);
  });
});
