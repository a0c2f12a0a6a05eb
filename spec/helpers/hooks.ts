import { setSharedRedisUrl } from '../../support/service';
import { ProvisionedRedis, provisionCluster, provisionRedis } from './provision';

let shared: ProvisionedRedis | undefined;

/** Root hooks: one Redis for every spec that does not need its own server (support/service.ts `sharedRedisUrl`). */
export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    this.timeout(120_000);
    shared = process.env.RSCRX_CLUSTER ? await provisionCluster() : await provisionRedis();
    setSharedRedisUrl(shared.url);
    if (process.env.RSCRX_QUIET === undefined) console.log(`  Redis for the tests: ${shared.how}`);
  },
  async afterAll(): Promise<void> {
    setSharedRedisUrl(undefined);
    await shared?.stop();
  },
};
