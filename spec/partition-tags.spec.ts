import { expect } from 'chai';
import type Redis from 'ioredis';
import { lastValueFrom } from 'rxjs';
import { LBS_FIELD, PartitionCountError, PartitionTagsChangedError, addStream, partitionTags } from '../lib';
import { cleanup, connect, uniqueService } from '../support/service';

/**
 * The stored partition count and the partition tags of a tagged service, on one node: a producer
 * (or consumer) given another count is refused, and so is one that would leave entries written
 * under an earlier version's tags unread.
 */
describe('a tagged service with 3 partitions', () => {
  const options = { keyLayout: 'tagged', partitions: 3 } as const;
  let redis: Redis;
  let service: string;

  beforeEach(() => {
    redis = connect();
    // A name one of whose partitions no longer has the plain tag {<service>:<p>} (two in three do not).
    do service = uniqueService('tags');
    while (partitionTags(service, 3).every((tag, p) => tag === `{${service}:${p}}`));
  });

  afterEach(async () => {
    await cleanup(redis, service);
    redis.disconnect();
  });

  it('adds each stream to the LBS of its partition, under the partition tag, and stores the count', async () => {
    await lastValueFrom(addStream(redis, service, { dataStreamName: 's1' }, options));
    const lengths = await Promise.all(partitionTags(service, 3).map((tag) => redis.exists(`${tag}-input`)));
    expect(lengths.reduce((a, b) => a + b, 0)).to.equal(1);
    expect(await redis.get(`{${service}:0}-partitions`)).to.equal('3');
  });

  it('refuses another partition count than the one stored', async () => {
    await lastValueFrom(addStream(redis, service, { dataStreamName: 's1' }, options));
    const err = await lastValueFrom(addStream(redis, service, { dataStreamName: 's2' }, { ...options, partitions: 2 })).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(PartitionCountError);
  });

  it("refuses to run while an LBS under an earlier version's tag {<service>:<p>} exists, naming it and its new key", async () => {
    const p = partitionTags(service, 3).findIndex((tag, i) => tag !== `{${service}:${i}}`);
    await redis.xadd(`{${service}:${p}}-input`, '*', LBS_FIELD, JSON.stringify({ DataStreamName: 'old', Info: {} }));
    const err = await lastValueFrom(addStream(redis, service, { dataStreamName: 's1' }, options)).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(PartitionTagsChangedError);
    expect((err as PartitionTagsChangedError).code).to.equal('PARTITION_TAGS_CHANGED');
    expect((err as PartitionTagsChangedError).oldKeys).to.deep.equal([`{${service}:${p}}-input`]);
    expect((err as PartitionTagsChangedError).newKeys).to.deep.equal([`${partitionTags(service, 3)[p]}-input`]);
    await redis.del(`{${service}:${p}}-input`);
    await lastValueFrom(addStream(redis, service, { dataStreamName: 's1' }, options));
  });
});
