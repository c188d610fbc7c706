// Runs the test suites with node:test (TypeScript through tsx), one suite after another, with the
// node that runs this script (scripts/run-tests-on-node.mjs runs it with another):
//   node scripts/run-tests.mjs [suite...]   suites: unit integration browser deploy (default: all)
// First the system programs the requested suites use are checked, and installed when missing
// (scripts/system-packages.mjs): a missing one fails the run at once, not a suite minutes later.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ensureSystemPackages } from './system-packages.mjs';

const SUITES = {
  // Pure modules, next to their code; the scripts' own tests.
  unit: { roots: ['src', 'scripts'], concurrency: 2 },
  // Real bash on real ptys over real WebSockets on loopback; the CLI as a process.
  integration: {
    roots: [
      'test/handler',
      'test/server',
      'test/cli',
      'test/security',
      'test/reliability',
      'test/session',
      'test/types',
    ],
    concurrency: 2,
  },
  // Debian's Chromium driven by playwright-core.
  browser: { roots: ['test/browser'], concurrency: 1 },
  // Real nginx and systemd-socket-activate.
  deploy: { roots: ['test/deploy'], concurrency: 1 },
};

function testFiles(root) {
  let names;
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const path = join(root, name);
    if (statSync(path).isDirectory()) {
      return name === 'node_modules' ? [] : testFiles(path);
    }
    return /\.test\.(ts|mjs)$/.test(name) ? [path] : [];
  });
}

const requested = process.argv.slice(2);
for (const name of requested) {
  if (!(name in SUITES)) {
    console.error(`run-tests: unknown suite '${name}' (suites: ${Object.keys(SUITES).join(', ')})`);
    process.exit(2);
  }
}
const names = requested.length > 0 ? requested : Object.keys(SUITES);
const preflight = ensureSystemPackages(names);
if (!preflight.ok) {
  console.error(preflight.message);
  process.exit(1);
}
let failed = false;
for (const name of names) {
  const suite = SUITES[name];
  const files = suite.roots.flatMap(testFiles).sort();
  if (files.length === 0) {
    console.error(`run-tests: suite '${name}' has no test files`);
    failed = true;
    continue;
  }
  console.log(`\n## ${name}: ${files.length} files`);
  const started = Date.now();
  const result = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${suite.concurrency}`,
      // A hung test must fail CI, not hold it: the slowest test (2,000 sessions) takes about
      // 4 min on a loaded 2-core machine.
      '--test-timeout=420000',
      '--test-reporter=spec',
      ...files,
    ],
    { stdio: 'inherit' },
  );
  console.log(
    `## ${name}: ${result.status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  failed ||= result.status !== 0;
}
process.exit(failed ? 1 : 0);
