export { RedisStreamClient } from './client';
export { addStream } from './add-stream';
export { ofType } from './operators/of-type';
export { retryWithBackoff, backoffDelay } from './operators/retry-with-backoff';
export type { RetryWithBackoffConfig } from './operators/retry-with-backoff';
export { MUTEX_KEY_SEP, LBS_FIELD, lbsKey, groupName, deadLetterKey, lockKey } from './redis/keys';
export * from './errors';
export type * from './types';
