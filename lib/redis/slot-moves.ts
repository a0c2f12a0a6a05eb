import type { Cluster } from 'ioredis';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const calculateSlot = require('cluster-key-slot') as (key: string) => number;

/** `CLUSTER NODES` marks a slot the node is moving out as `[<slot>->-<target id>]`, and one it takes in as `[<slot>-<-<source id>]`, on its own ("myself") line. */
const movingMarks = (slot: number): readonly string[] => [`[${slot}->-`, `[${slot}-<-`];

/**
 * True while the primary that serves `key`'s slot (as the Cluster client sees it) is moving that
 * slot to another primary key by key (`CLUSTER SETSLOT ... MIGRATING`), or taking it in from one
 * (`IMPORTING`, should the client already route the slot there): a multi-key call on the
 * slot is then refused with TRYAGAIN until the move ends, while a one-key call is redirected (ASK).
 * False when the slot is not moving; a node that does not answer makes the call fail or hang
 * (a failed node is not a moving slot: the caller bounds the wait).
 */
export const isSlotMoving = async (cluster: Cluster, key: string): Promise<boolean> => {
  const slot = calculateSlot(key);
  const at = cluster.slots[slot]?.[0];
  const node = at === undefined ? undefined : cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === at);
  if (node === undefined) return false;
  const nodes = (await node.call('CLUSTER', 'NODES')) as string;
  const myself = nodes.split('\n').find((line) => line.split(' ')[2]?.includes('myself'));
  return myself !== undefined && movingMarks(slot).some((mark) => myself.includes(mark));
};
