import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { include, withIncludes } from '../lib/redis/lua-source';
import { entryKeysOf, lockKey } from '../lib/keys';
import { Code } from '../lib/redis/scripts';
import { scriptArgs } from '../lib/redis/script-args';

const LUA = join(__dirname, '..', 'lib', 'redis', 'lua');

describe('script arguments', () => {
  it("lays out key count, fixed keys, one key per entry, fixed arguments, then each entry's arguments", () => {
    const entries = [{ k: 'a', x: 1, y: 'p' }, { k: 'b', x: 2, y: 'q' }, { k: 'c', x: 3, y: 'r' }];
    const args = scriptArgs(['K1', 'K2'], entries, 1, 3, (e) => e.k, ['A1'], [(e) => e.x, (e) => e.y]);
    expect(args).to.deep.equal([4, 'K1', 'K2', 'b', 'c', 'A1', 2, 'q', 3, 'r']);
  });

  it('takes no per-entry arguments by default', () => {
    expect(scriptArgs(['K'], ['x', 'y'], 0, 2, (e) => e, ['A', 0])).to.deep.equal([3, 'K', 'x', 'y', 'A', 0]);
  });

  it('declares the keys beside each lock, a block per kind after the locks, so that a script touches no undeclared key', () => {
    const locks = [lockKey('s1', '1-0'), lockKey('s2', '2-0')];
    const args = scriptArgs(['K'], locks, 0, 2, (l) => l, ['A'], [(l) => l.length], ['committed', 'fence']);
    const [c1, c2] = locks.map((l) => entryKeysOf(l));
    expect(args).to.deep.equal([7, 'K', locks[0], locks[1], c1!.committed, c2!.committed, c1!.fence, c2!.fence, 'A', locks[0]!.length, locks[1]!.length]);
  });

  it('no script derives a key it did not declare (a Cluster moving the slot would run it on a node that lacks the key)', () => {
    for (const file of readdirSync(LUA).filter((f) => f.endsWith('.lua'))) {
      const text = readFileSync(join(LUA, file), 'utf8');
      expect(text, file).not.to.match(/committed_key\(|fence_key\(|--!include entrykeys/);
    }
  });
});

describe('script includes', () => {
  it('replaces each include line by the snippet, includes of includes first, each snippet once', () => {
    const snippets: Record<string, string> = { a: '--!include b\nlocal A = B', b: 'local B = 1\n' };
    const source = '--!include a\n--!include b\nreturn A';
    expect(withIncludes(source, (name) => snippets[name]!)).to.equal('local B = 1\nlocal A = B\n\nreturn A');
  });

  it('leaves no include line in any script, and defines each shared function once', () => {
    for (const file of readdirSync(LUA).filter((f) => f.endsWith('.lua'))) {
      const source = withIncludes(readFileSync(join(LUA, file), 'utf8'), include);
      expect(source, file).not.to.match(/--!include/);
      for (const fn of ['now_ms', 'lower_deadline', 'pending_owner', 'entry_id']) {
        expect(source.split(`local function ${fn}(`).length, `${fn} in ${file}`).to.be.at.most(2);
      }
    }
  });

  it('gives the Lua result codes (include/codes.lua) the values the typed results are read with', () => {
    const [, names = '', values = ''] = /local ([\w, ]+) = ([-\d, ]+)/.exec(include('codes')) ?? [];
    const lua = Object.fromEntries(names.split(', ').map((name, i) => [name, Number(values.split(', ')[i])]));
    expect(lua).to.deep.equal({ OK: Code.Ok, HELD: Code.Held, NOT_PENDING: Code.NotPending, RETAKEN: Code.Retaken, DUPLICATE: Code.Duplicate });
  });
});
