/** For the heap scripts (run with `node --expose-gc`): heapUsed after a few full GCs, with pauses between. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const heapAfterGc = async (rounds = 4, pauseMs = 20): Promise<number> => {
  for (let i = 0; i < rounds; i++) {
    (global as { gc?: () => void }).gc?.();
    await sleep(pauseMs);
  }
  return process.memoryUsage().heapUsed;
};
