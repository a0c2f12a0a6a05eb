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
 * A tick that comes late (more than 1.5 periods after the previous one) is not judged: the process
 * was paused (SIGSTOP, a frozen VM) or its event loop blocked, and an extension's answer may be
 * waiting in the socket, behind this timer (Node runs due timers before reading sockets). The
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
  const late = now - clock.lastTickAt > 1.5 * period;
  if (late || clock.failingSince === undefined || now - clock.failingSince < period) return [];
  return owned.filter((o) => now - o.confirmedAt > ttl);
};
