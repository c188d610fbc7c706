// deploy/systemd/ as shipped, checked by the real systemd-analyze verify (which needs no running
// systemd: it loads the unit files and checks every setting and the ExecStart binary), and held
// to the CLI's flags and the nginx config's socket path.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseCliArgs } from '../../src/cli/args.js';
import { CLI, ROOT } from '../helpers/cli-process.js';

const UNITS = join(ROOT, 'deploy/systemd');
const SOCKET_UNIT = 'xterm-js-shell@.socket';
const SERVICE_UNIT = 'xterm-js-shell@.service';
const INSTALLED_CLI = '/usr/local/bin/xterm-js-shell';

/** The value of `key=` in a unit file (the last one wins, as in systemd). */
function setting(text: string, key: string): string | undefined {
  const values = [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((match) => match[1]);
  return values.at(-1);
}

/** `systemd-analyze verify` on instance `alice` of the templates in `dir`. */
function verify(dir: string): { status: number | null; output: string } {
  const result = spawnSync(
    'systemd-analyze',
    ['verify', join(dir, 'xterm-js-shell@alice.socket'), join(dir, 'xterm-js-shell@alice.service')],
    { encoding: 'utf8', cwd: dir },
  );
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('the systemd template units', () => {
  let dir: string;
  let service: string;
  let socket: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'xjs-units-'));
    service = readFileSync(join(UNITS, SERVICE_UNIT), 'utf8');
    socket = readFileSync(join(UNITS, SOCKET_UNIT), 'utf8');
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Copies the units to `dir`, the service starting an executable that exists here in place of
   * the installed command (verify checks it is there); `edit` changes the service text.
   */
  function stage(edit: (text: string) => string = (text) => text): void {
    const shim = join(dir, 'xterm-js-shell');
    writeFileSync(shim, `#!/bin/sh\nexec ${process.execPath} ${CLI} "$@"\n`, { mode: 0o755 });
    assert.ok(service.includes(`ExecStart=${INSTALLED_CLI} `));
    writeFileSync(
      join(dir, SERVICE_UNIT),
      edit(service.replace(`ExecStart=${INSTALLED_CLI} `, `ExecStart=${shim} `)),
    );
    copyFileSync(join(UNITS, SOCKET_UNIT), join(dir, SOCKET_UNIT));
  }

  it('pass systemd-analyze verify without a single warning', () => {
    stage();
    assert.deepEqual(verify(dir), { status: 0, output: '' });
  });

  it('would be caught by systemd-analyze verify if a setting were misspelt', () => {
    // The control: the check above is not empty in this environment.
    stage((text) => text.replace('KillMode=mixed', 'KilMode=mixed'));
    const result = verify(dir);
    assert.match(result.output, /Unknown key 'KilMode' in section \[Service\]/);
  });

  it('would be caught by systemd-analyze verify if the command were missing', () => {
    stage((text) => text.replace(join(dir, 'xterm-js-shell'), join(dir, 'not-installed')));
    const result = verify(dir);
    assert.notEqual(result.status, 0);
    assert.match(result.output, /not-installed is not executable/);
  });

  it('start the CLI with flags it accepts, exiting when idle, as the user', () => {
    assert.equal(setting(service, 'User'), '%i');
    const execStart = setting(service, 'ExecStart');
    assert.ok(execStart !== undefined);
    // systemd splits at spaces and fills ${HOME} and ${SHELL} from the user's passwd entry.
    const argv = execStart
      .replaceAll('${HOME}', '/home/alice')
      .replaceAll('${SHELL}', '/bin/bash')
      .split(/\s+/);
    assert.equal(argv[0], INSTALLED_CLI);
    const parsed = parseCliArgs(argv.slice(1));
    assert.equal(parsed.kind, 'run', JSON.stringify(parsed));
    assert.ok(parsed.kind === 'run');
    assert.ok((parsed.options.exitWhenIdle ?? 0) > 0, 'the service exits when idle');
    assert.equal(parsed.options.socket, undefined, 'systemd passes the socket; no --socket');
    // nginx connects through the socket: its X-Forwarded-For names the browser (F6).
    assert.deepEqual(parsed.options.trustedProxies, ['unix']);
    assert.deepEqual(parsed.options.command, ['/bin/bash', '-l']);
    assert.equal(setting(service, 'KillMode'), 'mixed');
  });

  it('leave out every setting that would break sudo or the home directory', () => {
    for (const key of ['NoNewPrivileges', 'ProtectHome', 'ProtectSystem', 'PrivateTmp']) {
      assert.equal(setting(service, key), undefined, `${key}= must stay off for a login shell`);
    }
    // Each of these implies NoNewPrivileges=yes when User= is set (systemd.exec(5)).
    for (const key of [
      'SystemCallFilter',
      'SystemCallArchitectures',
      'RestrictAddressFamilies',
      'RestrictNamespaces',
      'RestrictSUIDSGID',
      'LockPersonality',
      'MemoryDenyWriteExecute',
      'RestrictRealtime',
      'PrivateDevices',
      'ProtectClock',
      'ProtectHostname',
      'ProtectKernelTunables',
      'ProtectKernelModules',
      'ProtectKernelLogs',
    ]) {
      assert.equal(setting(service, key), undefined, `${key}= would break sudo`);
    }
  });

  it('give each user a socket only the user and the proxy group can connect to', () => {
    assert.equal(setting(socket, 'ListenStream'), '/run/xterm-js-shell/%i.sock');
    assert.equal(setting(socket, 'SocketUser'), '%i');
    assert.equal(setting(socket, 'SocketGroup'), 'www-data');
    assert.equal(setting(socket, 'SocketMode'), '0660');
    assert.equal(setting(socket, 'Accept'), 'no');
    // The nginx config proxies to the same path.
    const nginx = readFileSync(join(ROOT, 'deploy/nginx/xterm-js-shell.conf'), 'utf8');
    assert.match(nginx, /proxy_pass http:\/\/unix:\/run\/xterm-js-shell\/\$xjs_user\.sock;/);
  });
});
