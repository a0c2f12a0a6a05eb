// Copies the Lua scripts next to the compiled JavaScript (dist/redis/lua), where lib/redis/scripts.ts loads them.
const fs = require('node:fs');
const path = require('node:path');

const from = path.join(__dirname, '..', 'lib', 'redis', 'lua');
const to = path.join(__dirname, '..', 'dist', 'redis', 'lua');
fs.mkdirSync(to, { recursive: true });
for (const file of fs.readdirSync(from).filter((f) => f.endsWith('.lua'))) {
  fs.copyFileSync(path.join(from, file), path.join(to, file));
}
