// Runs the library, the specs and every child process they spawn against another major of
// ioredis: with RSCRX_IOREDIS=6, `require('ioredis')` resolves to the `ioredis6` dev dependency
// (npm:ioredis@6). Loaded by the test hooks and, through NODE_OPTIONS, by child processes.
// Without the variable it does nothing (ioredis 5, the version in the lock file).
const Module = require('node:module');
const path = require('node:path');

const major = process.env.RSCRX_IOREDIS;
if (major !== undefined && major !== '' && major !== '5') {
  const alias = `ioredis${major}`;
  const target = path.dirname(require.resolve(`${alias}/package.json`));
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    if (request === 'ioredis' || request.startsWith('ioredis/')) request = target + request.slice('ioredis'.length);
    return resolve.call(this, request, ...rest);
  };
  const flag = `--require ${JSON.stringify(__filename)}`;
  const options = process.env.NODE_OPTIONS ?? '';
  if (!options.includes(__filename)) process.env.NODE_OPTIONS = `${options} ${flag}`.trim();
}

/** The ioredis major the process runs with. */
module.exports = { ioredisMajor: Number(require(require.resolve('ioredis/package.json')).version.split('.')[0]) };
