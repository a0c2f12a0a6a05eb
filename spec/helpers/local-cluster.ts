import { LocalCluster } from '../../support/cluster';
import { hasRedisServer } from '../../support/redis-server';

/**
 * A local Cluster of its own (3 primaries, 3 replicas) for the `describe` block that calls this:
 * started before its tests (skipped without a redis-server binary), stopped after them.
 *
 * ## Example
 * ```ts
 * const local = useLocalCluster();
 * it('...', async () => { const redis = local.cluster.connect(); ... });
 * ```
 */
export const useLocalCluster = (): { readonly cluster: LocalCluster } => {
  const fixture: { cluster?: LocalCluster } = {};
  before(async function () {
    if (!hasRedisServer()) this.skip();
    this.timeout(60_000);
    fixture.cluster = await LocalCluster.start();
  });
  after(async () => {
    await fixture.cluster?.stop();
  });
  return {
    get cluster(): LocalCluster {
      if (fixture.cluster === undefined) throw new Error('the local Cluster is not started (useLocalCluster runs in a describe block)');
      return fixture.cluster;
    },
  };
};
