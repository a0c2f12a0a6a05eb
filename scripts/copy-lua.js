// Copies the Lua scripts and their shared snippets (include/) next to the compiled JavaScript
// (dist/redis/lua), where lib/redis/scripts.ts loads them.
const fs = require('node:fs');
const path = require('node:path');

const from = path.join(__dirname, '..', 'lib', 'redis', 'lua');
const to = path.join(__dirname, '..', 'dist', 'redis', 'lua');
fs.cpSync(from, to, { recursive: true, filter: (src) => fs.statSync(src).isDirectory() || src.endsWith('.lua') });
