import { setSharedRedisUrl } from '../../support/service';
import { hasRedisServer } from '../../support/redis-server';
import { stillRunning } from '../../support/processes';
import { PRIVATE_SERVER_SKIPS, ProvisionedRedis, provisionCluster, provisionRedis } from './provision';

const ioredisVersion = (): string => (require('ioredis/package.json') as { version: string }).version;

let shared: ProvisionedRedis | undefined;

/** Root hooks: one Redis for every spec that does not need its own server (support/service.ts `sharedRedisUrl`). */
export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    this.timeout(120_000);
    shared = process.env.RSCRX_CLUSTER ? await provisionCluster() : await provisionRedis();
    setSharedRedisUrl(shared.url);
    if (process.env.RSCRX_QUIET === undefined) {
      console.log(`  Redis for the tests: ${shared.how}; ioredis ${ioredisVersion()}`);
      if (!hasRedisServer()) console.log(`  No redis-server binary: ${PRIVATE_SERVER_SKIPS}`);
    }
  },
  async afterAll(): Promise<void> {
    setSharedRedisUrl(undefined);
    await shared?.stop();
    // The run ends when nothing is left running ("exit": false): name what keeps it up, if anything,
    // and end it 30 s later as a failure (a leak must show, and must not hang the run).
    setTimeout(() => {
      console.error(`  Still running 5 s after the last spec (a leak): ${process.getActiveResourcesInfo().join(', ')}`);
      for (const child of stillRunning()) console.error(`    child process still running: ${child}`);
      setTimeout(() => {
        console.error('  Ending the run: it was still kept up 35 s after the last spec (counted as a failure).');
        process.exit(1);
      }, 30_000).unref();
    }, 5000).unref();
  },
};
