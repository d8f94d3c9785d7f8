import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import { boundaries } from '../eslint.boundaries.js';

/**
 * The unit boundaries (eslint.boundaries.js, docs/architecture.md) report a bad import. Each
 * fixture in test/lint-fixtures says which path it is linted as and which message it must get.
 */
const FIXTURES = join(import.meta.dirname, 'lint-fixtures');
const eslint = new ESLint({
  cwd: join(import.meta.dirname, '..'),
  overrideConfigFile: true,
  overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } }, ...boundaries],
});

describe('unit boundaries', () => {
  const fixtures = readdirSync(FIXTURES).filter((name) => name.endsWith('.ts.fixture'));

  it('has bad and good fixtures', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(8);
  });

  for (const name of fixtures) {
    it(name, async () => {
      const text = readFileSync(join(FIXTURES, name), 'utf8');
      const lintAs = /^\/\/ lint-as: (.+)$/m.exec(text)?.[1];
      const expected = /^\/\/ expect: (.+)$/m.exec(text)?.[1];
      expect(lintAs, 'the fixture names the path it is linted as').toBeDefined();
      const [result] = await eslint.lintText(text, { filePath: lintAs! });
      const messages = result!.messages.map((message) => message.message);
      if (expected === 'nothing') expect(messages).toEqual([]);
      else {
        expect(messages.length).toBe(1);
        expect(messages[0]).toContain(expected);
      }
    });
  }
});
