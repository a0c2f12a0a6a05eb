import { ProvisionedRedis, provisionRedis } from './provision';

let shared: ProvisionedRedis | undefined;

/** The Redis every spec that does not need its own server talks to. */
export const sharedRedisUrl = (): string => {
  if (shared === undefined) throw new Error('The shared Redis is not provisioned (spec/helpers/hooks.ts runs as a mocha root hook).');
  return shared.url;
};

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    this.timeout(120_000);
    shared = await provisionRedis();
    if (process.env.RSCRX_QUIET === undefined) console.log(`  Redis for the tests: ${shared.how}`);
  },
  async afterAll(): Promise<void> {
    await shared?.stop();
  },
};
