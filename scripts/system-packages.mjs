// The system programs each test suite runs, the Debian package that ships each, and the preflight
// that scripts/run-tests.mjs runs before any suite: it installs what is missing (as root, with
// apt-get) or fails at once naming the program and the command that installs it.
//   node scripts/system-packages.mjs [--root DIR] [--check-only] [suite...]
// --root DIR looks for the fixed paths under DIR (a test's fake system); programs the suites run
// by name are looked up in $PATH, as the suites will.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/**
 * What the suites use that npm does not install. `path`: a fixed path the tests use as it is;
 * `command`: a program they run through $PATH. Bash, Perl and coreutils are part of every
 * Debian system. Not needed by any suite, so not here: procps (the tests read /proc themselves)
 * and ca-certificates (every TLS peer is on loopback with a certificate made by the test).
 */
export const NEEDS = [
  {
    suites: ['integration'],
    command: 'asciinema',
    package: 'asciinema',
    use: 'plays recordings back',
  },
  {
    suites: ['browser', 'deploy'],
    path: '/usr/bin/chromium',
    package: 'chromium',
    use: 'the browser the pages are tested in',
  },
  {
    suites: ['browser'],
    command: 'vim',
    package: 'vim',
    use: 'the full-screen program test',
  },
  {
    suites: ['browser'],
    path: '/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf',
    file: true,
    package: 'fonts-dejavu-core',
    use: "the page's monospace font, the same in every screenshot",
  },
  {
    suites: ['deploy'],
    path: '/usr/sbin/nginx',
    package: 'nginx',
    use: 'the TLS proxy in front of the servers',
  },
  {
    suites: ['deploy'],
    path: '/usr/bin/systemd-socket-activate',
    package: 'systemd',
    use: 'socket activation',
  },
  {
    suites: ['deploy'],
    command: 'systemd-analyze',
    package: 'systemd',
    use: 'checks the unit files',
  },
  {
    suites: ['deploy'],
    command: 'openssl',
    package: 'openssl',
    use: "makes nginx's test certificate",
  },
];

/** `name` as the suites would find it through `pathList`, or undefined. */
export function findOnPath(name, pathList = process.env.PATH ?? '') {
  for (const dir of pathList.split(delimiter)) {
    if (dir !== '' && isPresent(join(dir, name), false)) {
      return join(dir, name);
    }
  }
  return undefined;
}

function isPresent(path, file) {
  try {
    if (file) {
      return statSync(path).isFile();
    }
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The needs of `suites` that are not on this system (`root`: where the fixed paths live). */
export function missingFor(suites, { root = '/', pathList = process.env.PATH ?? '' } = {}) {
  return NEEDS.filter(
    (need) =>
      need.suites.some((suite) => suites.includes(suite)) &&
      (need.path !== undefined
        ? !isPresent(join(root, need.path), need.file === true)
        : findOnPath(need.command, pathList) === undefined),
  );
}

function describe(need) {
  return need.path ?? need.command;
}

function packagesOf(needs) {
  return [...new Set(needs.map((need) => need.package))];
}

export function installCommand(packages) {
  return `apt-get update && apt-get install -y --no-install-recommends ${packages.join(' ')}`;
}

function listing(needs, suites) {
  return needs
    .map((need) => {
      const by = need.suites.filter((suite) => suites.includes(suite)).join(', ');
      return `  ${describe(need)} (package ${need.package}; ${by}: ${need.use})`;
    })
    .join('\n');
}

/**
 * Makes sure what `suites` need is there. Missing programs are installed with apt-get when we
 * are root and apt-get is on $PATH (`apt-get update` first, DEBIAN_FRONTEND=noninteractive);
 * otherwise nothing is run and the result says what is missing and the command that installs it.
 * Returns `{ ok: true }` or `{ ok: false, message }`.
 */
export function ensureSystemPackages(
  suites,
  { root = '/', env = process.env, checkOnly = false, log = (line) => console.log(line) } = {},
) {
  const isRoot = process.getuid?.() === 0;
  const pathList = env.PATH ?? '';
  const missing = missingFor(suites, { root, pathList });
  if (missing.length === 0) {
    return { ok: true };
  }
  const packages = packagesOf(missing);
  const command = installCommand(packages);
  const aptGet = findOnPath('apt-get', pathList);
  if (checkOnly || !isRoot || aptGet === undefined) {
    let how = `install them with:\n  ${command}`;
    if (!checkOnly && aptGet === undefined) {
      how = `apt-get is not on $PATH; on Debian, as root, run:\n  ${command}\n(elsewhere install them with the system's package manager)`;
    } else if (!checkOnly) {
      how = `as root, run:\n  ${command}\n(or: sudo sh -c '${command}')`;
    }
    const named =
      suites.length > 1
        ? `${suites.slice(0, -1).join(', ')} and ${suites.at(-1)} suites need`
        : `${suites[0]} suite needs`;
    return {
      ok: false,
      message: `system-packages: the ${named} what this system lacks:\n${listing(missing, suites)}\n${how}`,
    };
  }
  log(
    `system-packages: installing ${packages.join(' ')} with apt-get, for ${missing
      .map((need) => `${describe(need)} (${need.use})`)
      .join(', ')}`,
  );
  const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...packages]]) {
    // stdin closed: nothing can wait for an answer.
    const result = spawnSync(aptGet, args, {
      env: aptEnv,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (result.status !== 0) {
      return {
        ok: false,
        message: `system-packages: \`apt-get ${args.join(' ')}\` failed (${result.error?.message ?? `exit ${result.status ?? result.signal}`}); the suites need:\n${listing(missing, suites)}\ninstall them with:\n  ${command}`,
      };
    }
  }
  const still = missingFor(suites, { root, pathList });
  if (still.length > 0) {
    return {
      ok: false,
      message: `system-packages: apt-get installed ${packages.join(' ')}, yet these are still missing:\n${listing(still, suites)}`,
    };
  }
  return { ok: true };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: {
      root: { type: 'string', default: '/' },
      'check-only': { type: 'boolean', default: false },
    },
  });
  const suites =
    positionals.length > 0 ? positionals : ['unit', 'integration', 'browser', 'deploy'];
  const result = ensureSystemPackages(suites, {
    root: values.root,
    checkOnly: values['check-only'],
  });
  if (!result.ok) {
    console.error(result.message);
    process.exit(1);
  }
}
