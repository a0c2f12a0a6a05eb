import { installCleanupHandlers, killAll } from '../support/processes';

/**
 * Runs one repro script's `main` (resolves true when the bug showed): exit code 1 when it
 * reproduced, 0 when not, 2 when the script itself failed; redis-server and children are always
 * cleaned up.
 */
export const runRepro = (main: () => Promise<boolean>): void => {
  installCleanupHandlers('chaos', 'redis-server, proxies and consumers');
  main().then(
    (bug) => {
      killAll();
      process.exit(bug ? 1 : 0);
    },
    (err: unknown) => {
      console.error(err);
      killAll();
      process.exit(2);
    },
  );
};
