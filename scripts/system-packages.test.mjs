// The preflight run as the suites' runner runs it, as a process, on a fake system: a directory
// standing for `/` (--root) and a PATH of our own, with some programs missing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NEEDS } from './system-packages.mjs';

const SCRIPT = fileURLToPath(new URL('system-packages.mjs', import.meta.url));
const isRoot = process.getuid?.() === 0;
/** Seconds the preflight may take to refuse: "within seconds", on a loaded machine. */
const REFUSAL_BUDGET_MS = 5_000;

function place(path, text = '#!/bin/sh\nexit 0\n') {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, 0o755);
}

/** A fake system holding everything the suites need except `absent` (paths or command names). */
function fakeSystem(dir, absent) {
  const root = join(dir, 'root');
  const bin = join(dir, 'bin');
  mkdirSync(root, { recursive: true });
  mkdirSync(bin, { recursive: true });
  for (const need of NEEDS) {
    if (need.path !== undefined && !absent.includes(need.path)) {
      place(join(root, need.path));
    } else if (need.command !== undefined && !absent.includes(need.command)) {
      place(join(bin, need.command));
    }
  }
  return { root, bin };
}

/**
 * A fake apt-get in `bin`: logs each call (its arguments and DEBIAN_FRONTEND) to `log`, exits
 * `status`, and on `install` creates `creates` (the programs the packages would bring).
 */
function fakeAptGet(bin, log, { status = 0, creates = [] } = {}) {
  place(
    join(bin, 'apt-get'),
    [
      '#!/bin/sh',
      `echo "DEBIAN_FRONTEND=$DEBIAN_FRONTEND $*" >> '${log}'`,
      `[ "$1" = install ] && for f in ${creates.map((path) => `'${path}'`).join(' ')}; do`,
      '  /bin/mkdir -p "${f%/*}" && printf "#!/bin/sh\\n" > "$f" && /bin/chmod 755 "$f"',
      'done',
      `exit ${status}`,
      '',
    ].join('\n'),
  );
}

/** Runs the preflight as a process; resolves with its exit, output and duration. */
function preflight(args, { path, uid } = {}) {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT, ...args], {
      env: { PATH: path, LANG: 'C.UTF-8' },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(uid === undefined ? {} : { uid, gid: uid }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text) => (stderr += text));
    child.once('error', reject);
    child.once('close', (code) =>
      resolve({ code, stdout, stderr, ms: performance.now() - started }),
    );
  });
}

describe('the system-packages preflight', () => {
  let dir;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'xjs-preflight-'));
    // Readable by the unprivileged user the not-root case runs as.
    chmodSync(dir, 0o755);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('needs nothing for the unit suite, even on a system that has none of the programs', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const result = await preflight(['--root', empty, 'unit'], { path: empty });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(`${result.stdout}${result.stderr}`, '', 'nothing to say, nothing installed');
  });

  it('passes when everything a suite needs is there', async () => {
    const { root, bin } = fakeSystem(join(dir, 'complete'), []);
    const result = await preflight(['--root', root, 'integration', 'browser', 'deploy'], {
      path: bin,
    });
    assert.equal(result.code, 0, result.stderr);
  });

  it('fails within seconds naming the missing program and its install command, without apt-get', async () => {
    const { root, bin } = fakeSystem(join(dir, 'no-apt'), ['/usr/sbin/nginx', 'asciinema']);
    const result = await preflight(['--root', root, 'deploy'], { path: bin });
    assert.equal(result.code, 1, result.stdout);
    assert.ok(result.ms < REFUSAL_BUDGET_MS, `took ${result.ms.toFixed(0)} ms`);
    assert.match(result.stderr, /\/usr\/sbin\/nginx \(package nginx; deploy: /);
    assert.match(
      result.stderr,
      /^ {2}apt-get update && apt-get install -y --no-install-recommends nginx$/m,
    );
    assert.match(result.stderr, /apt-get is not on \$PATH/);
    // Only what the requested suite needs: asciinema is the integration suite's.
    assert.doesNotMatch(result.stderr, /asciinema|openssl|chromium/);
  });

  it('names every missing package of every requested suite, once each', async () => {
    const { root, bin } = fakeSystem(join(dir, 'several'), [
      '/usr/bin/chromium',
      '/usr/bin/systemd-socket-activate',
      'systemd-analyze',
      'asciinema',
    ]);
    const result = await preflight(['--root', root, 'integration', 'deploy'], { path: bin });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /apt-get update && apt-get install -y --no-install-recommends asciinema chromium systemd$/m,
    );
    for (const missing of [
      '/usr/bin/chromium',
      '/usr/bin/systemd-socket-activate',
      'systemd-analyze',
      'asciinema',
    ]) {
      assert.ok(result.stderr.includes(`  ${missing} (package `), `${missing}:\n${result.stderr}`);
    }
  });

  it('does not run apt-get when not root, and says to run the install command as root', async () => {
    const { root, bin } = fakeSystem(join(dir, 'not-root'), ['vim']);
    const log = join(dir, 'not-root', 'apt.log');
    fakeAptGet(bin, log, { creates: [join(bin, 'vim')] });
    // As root, the check runs as nobody; otherwise as ourselves, who are not root either.
    const result = await preflight(['--root', root, 'browser'], {
      path: bin,
      uid: isRoot ? 65534 : undefined,
    });
    assert.equal(result.code, 1, result.stdout);
    assert.ok(result.ms < REFUSAL_BUDGET_MS, `took ${result.ms.toFixed(0)} ms`);
    assert.match(result.stderr, /^ {2}vim \(package vim; browser: /m);
    assert.match(
      result.stderr,
      /as root, run:\n {2}apt-get update && apt-get install -y --no-install-recommends vim\n/,
    );
    assert.throws(() => readFileSync(log), { code: 'ENOENT' }, 'apt-get was run');
  });

  it(
    'as root, installs the missing packages with apt-get: update first, non-interactive',
    { skip: !isRoot && 'needs root' },
    async () => {
      const { root, bin } = fakeSystem(join(dir, 'root-install'), ['/usr/sbin/nginx', 'openssl']);
      const log = join(dir, 'root-install', 'apt.log');
      fakeAptGet(bin, log, { creates: [join(root, '/usr/sbin/nginx'), join(bin, 'openssl')] });
      const result = await preflight(['--root', root, 'deploy'], { path: bin });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(
        readFileSync(log, 'utf8'),
        'DEBIAN_FRONTEND=noninteractive update\n' +
          'DEBIAN_FRONTEND=noninteractive install -y --no-install-recommends nginx openssl\n',
      );
      assert.match(
        result.stdout,
        /^system-packages: installing nginx openssl with apt-get, for \/usr\/sbin\/nginx \(.+\), openssl \(.+\)$/m,
      );
    },
  );

  it(
    'as root, fails naming the command when apt-get fails',
    { skip: !isRoot && 'needs root' },
    async () => {
      const { root, bin } = fakeSystem(join(dir, 'apt-fails'), ['/usr/bin/chromium']);
      fakeAptGet(bin, join(dir, 'apt-fails', 'apt.log'), { status: 100 });
      const result = await preflight(['--root', root, 'browser'], { path: bin });
      assert.equal(result.code, 1);
      assert.ok(result.ms < REFUSAL_BUDGET_MS, `took ${result.ms.toFixed(0)} ms`);
      assert.match(result.stderr, /`apt-get update` failed \(exit 100\)/);
      assert.match(result.stderr, /apt-get install -y --no-install-recommends chromium$/m);
    },
  );

  it(
    'fails when apt-get succeeds but the program is still missing',
    { skip: !isRoot && 'needs root' },
    async () => {
      const { root, bin } = fakeSystem(join(dir, 'apt-lies'), ['asciinema']);
      fakeAptGet(bin, join(dir, 'apt-lies', 'apt.log'));
      const result = await preflight(['--root', root, 'integration'], { path: bin });
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /installed asciinema, yet these are still missing:\n {2}asciinema /,
      );
    },
  );
});
