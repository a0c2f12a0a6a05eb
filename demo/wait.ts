/**
 * Waiting helpers for the demo script, all cancelled by Ctrl-C (an AbortSignal).
 */

/** Thrown by the helpers when the demo is interrupted. */
export class Interrupted extends Error {
  constructor(readonly signal: string) {
    super(`interrupted by ${signal}`);
  }
}

const check = (signal: AbortSignal): void => {
  if (signal.aborted) throw new Interrupted(String(signal.reason));
};

/** Sleeps `ms`, or throws `Interrupted` as soon as `signal` aborts. */
export const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Interrupted(String(signal.reason)));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new Interrupted(String(signal.reason)));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });

/** Polls `condition` every 20 ms; true once it holds, false if `timeoutMs` passes first. */
export const waitUntil = async (condition: () => boolean | Promise<boolean>, timeoutMs: number, signal: AbortSignal): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    check(signal);
    if (await condition()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(20, signal);
  }
};
