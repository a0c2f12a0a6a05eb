/** How a retry waits: the first delay, doubled at each further retry, up to a bound. */
export interface BackoffConfig {
  /** Delay before the first retry, ms; doubled at each further retry. */
  readonly initialDelay: number;
  /** Upper bound of any delay, ms. */
  readonly maxDelay: number;
}

/**
 * The delay before retry number `attempt` (1-based): `initialDelay * 2^(attempt-1)`, capped at `maxDelay`.
 *
 * @example
 * [1, 2, 3, 4].map((n) => backoffDelay(n, { initialDelay: 100, maxDelay: 500 })) // [100, 200, 400, 500]
 */
export const backoffDelay = (attempt: number, config: BackoffConfig): number =>
  Math.min(config.maxDelay, config.initialDelay * 2 ** Math.min(attempt - 1, 52));
