import { expect } from 'chai';
import { join } from 'node:path';
import ts from 'typescript';

const ENTRY_POINTS = ['lib/index.ts', 'lib/otel/index.ts'];

/** Whether a declaration's doc comment shows an example (`@example` or a `## Example` section). */
const hasExample = (decl: ts.Declaration): boolean => {
  const docs = ts.getJSDocCommentsAndTags(decl);
  return docs.some((doc) => /(^|\n)\s*(\*\s*)?(@example|## Example)/.test(doc.getFullText()) || (ts.isJSDoc(doc) && (doc.tags ?? []).some((tag) => tag.tagName.text === 'example')));
};

/** Every export of the entry points, with the file of its declaration, whose doc comment has no example. */
export const exportsWithoutExample = (): string[] => {
  const root = join(__dirname, '..');
  const program = ts.createProgram(ENTRY_POINTS.map((f) => join(root, f)), { strict: true, esModuleInterop: true, skipLibCheck: true, noEmit: true });
  const checker = program.getTypeChecker();
  const missing: string[] = [];
  for (const entry of ENTRY_POINTS) {
    const source = program.getSourceFile(join(root, entry))!;
    const module = checker.getSymbolAtLocation(source)!;
    for (const symbol of checker.getExportsOfModule(module)) {
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      const decls = target.getDeclarations() ?? [];
      // A `const` is documented on its statement: getJSDocCommentsAndTags walks up from the declaration.
      if (!decls.some(hasExample)) missing.push(`${entry}: ${symbol.getName()} (${decls[0] === undefined ? '?' : decls[0].getSourceFile().fileName.slice(root.length + 1)})`);
    }
  }
  return missing;
};

describe('the public surface', () => {
  it('documents every export of the entry points with an example', function () {
    this.timeout(60_000);
    expect(exportsWithoutExample()).to.deep.equal([]);
  });
});
