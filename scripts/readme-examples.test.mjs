// The README's code examples are the runnable files in examples/, whole, and every example is
// in the README.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { withExamples } from './readme-examples.mjs';

const read = (path) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

describe('README examples', () => {
  it('are the files in examples/, byte for byte (node scripts/readme-examples.mjs writes them)', () => {
    const readme = read('README.md');
    const { text, names } = withExamples(readme, read);
    assert.ok(names.length > 0, 'the README marks its examples');
    assert.equal(
      readme,
      text,
      'README.md differs from examples/: run node scripts/readme-examples.mjs',
    );
  });

  it('show every example', () => {
    const files = readdirSync(new URL('../examples/', import.meta.url))
      .filter((name) => name.endsWith('.ts'))
      .map((name) => `examples/${name}`)
      .sort();
    assert.deepEqual([...withExamples(read('README.md'), read).names].sort(), files);
  });

  it('replace a stale block with the file', () => {
    const stale = 'intro\n<!-- example: a.ts -->\n\n```ts\nold();\n```\nafter\n';
    const { text } = withExamples(stale, () => 'fresh();\n');
    assert.equal(text, 'intro\n<!-- example: a.ts -->\n\n```ts\nfresh();\n```\nafter\n');
  });
});
