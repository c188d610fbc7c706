// The README's code examples are the files in examples/, so they cannot drift: each block that
// follows a marker `<!-- example: examples/NAME.ts -->` is that file, whole.
//   node scripts/readme-examples.mjs           writes the blocks into README.md
//   node scripts/readme-examples.mjs --check   exits 1, naming them, when a block differs
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** A marker line and the fenced block after it (with the blank line between, if any). */
const EXAMPLE = /^<!-- example: (\S+) -->\n(?:\n)?```ts\n[\s\S]*?^```$/gm;

/**
 * The README with every marked block replaced by its file (`read(path)` gives a file's text);
 * `names` lists the files marked, in order.
 */
export function withExamples(readme, read) {
  const names = [];
  const text = readme.replace(EXAMPLE, (_block, path) => {
    names.push(path);
    return `<!-- example: ${path} -->\n\n\`\`\`ts\n${read(path).trimEnd()}\n\`\`\``;
  });
  return { text, names };
}

function readRepoFile(path) {
  return readFileSync(new URL(path, `file://${ROOT}`), 'utf8');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const readme = readRepoFile('README.md');
  const { text, names } = withExamples(readme, readRepoFile);
  if (process.argv.includes('--check')) {
    if (text !== readme) {
      const stale = names.filter(
        (name) => !readme.includes(`\`\`\`ts\n${readRepoFile(name).trimEnd()}\n\`\`\``),
      );
      console.error(
        `README.md differs from ${stale.join(', ')}: run node scripts/readme-examples.mjs`,
      );
      process.exit(1);
    }
  } else {
    writeFileSync(new URL('README.md', `file://${ROOT}`), text);
    console.log(`README.md: ${names.length} examples written (${names.join(', ')})`);
  }
}
