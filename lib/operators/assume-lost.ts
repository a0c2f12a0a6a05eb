/** What the heartbeat knows between ticks, to decide without Redis. */
export interface HeartbeatClock {
  /** When the previous tick ran (ms). */
  readonly lastTickAt: number;
  /** When the oldest extension attempt that has not succeeded yet was sent (ms); undefined when the last one succeeded. */
  readonly failingSince: number | undefined;
}

/**
 * The locks this consumer must assume lost **without asking Redis**: Redis has not confirmed
 * them for longer than their TTL, and extension attempts have been failing or hanging for at
 * least one heartbeat period while this process was running. Pure.
 *
 * A process that was paused (SIGSTOP, a frozen VM, a blocked event loop) is not judged here: its
 * tick comes late (more than a TTL after the previous one), nothing was tried meanwhile, and the
 * next extension decides (the lock is someone else's: disowned; it vanished: re-taken).
 *
 * @example
 * assumeLost([{ confirmedAt: 0 }], 2600, 2000, 1000, { lastTickAt: 1600, failingSince: 1000 }) // [{ confirmedAt: 0 }]
 */
export const assumeLost = <T extends { readonly confirmedAt: number }>(
  owned: readonly T[],
  now: number,
  ttl: number,
  period: number,
  clock: HeartbeatClock,
): T[] => {
  const paused = now - clock.lastTickAt > ttl;
  if (paused || clock.failingSince === undefined || now - clock.failingSince < period) return [];
  return owned.filter((o) => now - o.confirmedAt > ttl);
};
