import { lockKey } from '../keys';

/**
 * Where the fence and the committed position of a data stream live (written beside its lock by
 * `consumeStream`), for the LBS entry that handles it. `inspect` reads them only when they exist,
 * so it also works against services whose consumers write neither. This is the one place that
 * knows their names: keep it the same as the writer's.
 */
export const streamStateKeys = (dataStreamName: string, idInLbs: string): { readonly fence: string; readonly committed: string } => {
  const lock = lockKey(dataStreamName, idInLbs);
  return { fence: `${lock}:fence`, committed: `${lock}:committed` };
};
