// Listening targets on real sockets in a temp dir: modes, stale and live socket files, cleanup,
// and the systemd activation variables.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  closeSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { get } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { listenOn, socketActivationTargets, type Listener } from './listen.js';

/** Answers `GET /` with `hello from NAME`, as the real server answers its page. */
function httpServer(name: string): Server {
  const server = createServer((socket) => {
    socket.once('data', () => {
      const body = `hello from ${name}`;
      socket.end(
        `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
    });
  });
  return server;
}

function getOverSocket(socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ socketPath, path: '/' }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** Leaves a socket file behind as a crashed server does: bound, then killed before cleanup. */
async function leaveStaleSocket(path: string): Promise<void> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ],
    { stdio: 'ignore' },
  );
  const signal = await new Promise((resolve) => child.once('exit', (_code, sig) => resolve(sig)));
  assert.equal(signal, 'SIGKILL');
  assert.ok(lstatSync(path).isSocket(), 'the crashed server left its socket file');
}

function mode(path: string): number {
  return lstatSync(path).mode & 0o777;
}

describe('listening on a UNIX socket', () => {
  let dir: string;
  const opened: Listener[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'xjs-listen-'));
  });
  afterEach(() => {
    for (const listener of opened.splice(0)) {
      listener.close();
    }
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  async function listen(server: Server, path: string, socketMode?: number): Promise<Listener> {
    const listener = await listenOn(server, {
      kind: 'unix',
      path,
      ...(socketMode !== undefined ? { mode: socketMode } : {}),
    });
    opened.push(listener);
    return listener;
  }

  it('serves HTTP on the socket, created with mode 0600 unless told otherwise', async () => {
    const path = join(dir, 'default.sock');
    const listener = await listen(httpServer('default'), path);
    assert.deepEqual(listener.address, { kind: 'unix', path });
    assert.equal(mode(path), 0o600);
    assert.equal(await getOverSocket(path), 'hello from default');

    const grouped = join(dir, 'grouped.sock');
    await listen(httpServer('grouped'), grouped, 0o660);
    assert.equal(mode(grouped), 0o660);
    assert.equal(await getOverSocket(grouped), 'hello from grouped');
  });

  it('leaves nothing in the directory but the socket (the staging directory is gone)', async () => {
    const sub = mkdtempSync(join(dir, 'clean-'));
    await listen(httpServer('clean'), join(sub, 'only.sock'));
    assert.deepEqual(readdirSync(sub), ['only.sock']);
  });

  it('replaces a stale socket file that nobody answers on', async () => {
    const path = join(dir, 'stale.sock');
    await leaveStaleSocket(path);
    await assert.rejects(getOverSocket(path), /ECONNREFUSED/);
    await listen(httpServer('new'), path);
    assert.equal(await getOverSocket(path), 'hello from new');
  });

  it('refuses a socket a live server answers on, and leaves that server working', async () => {
    const path = join(dir, 'live.sock');
    await listen(httpServer('first'), path);
    const second = httpServer('second');
    await assert.rejects(
      listenOn(second, { kind: 'unix', path }),
      (error: NodeJS.ErrnoException) =>
        error.code === 'EADDRINUSE' &&
        error.message === `${path}: another server is listening on this socket`,
    );
    assert.equal(second.listening, false);
    assert.equal(await getOverSocket(path), 'hello from first');
  });

  it('refuses to replace a file that is not a socket', async () => {
    const path = join(dir, 'precious.txt');
    writeFileSync(path, 'keep me');
    await assert.rejects(
      listenOn(httpServer('x'), { kind: 'unix', path }),
      new RegExp(`^Error: ${path} exists and is not a socket; refusing to replace it$`),
    );
    assert.ok(lstatSync(path).isFile());
  });

  it('removes its socket file on close, but not a socket that has replaced it since', async () => {
    const path = join(dir, 'removed.sock');
    const first = await listenOn(httpServer('first'), { kind: 'unix', path });
    first.close();
    assert.throws(() => lstatSync(path), /ENOENT/);

    const old = await listenOn(httpServer('old'), { kind: 'unix', path });
    rmSync(path); // an operator removed it, and another server took the path
    await listen(httpServer('newer'), path);
    old.close();
    assert.equal(await getOverSocket(path), 'hello from newer');
  });

  it('refuses a path longer than a UNIX socket address holds, creating nothing', async () => {
    const path = join(dir, `${'x'.repeat(120)}.sock`);
    await assert.rejects(
      listenOn(httpServer('long'), { kind: 'unix', path }),
      /a UNIX socket path is limited to 107 bytes, this one has \d+/,
    );
    assert.equal(
      readdirSync(dir).some((name) => name.startsWith('xxx')),
      false,
    );
  });

  it('names the path when its directory does not exist', async () => {
    const path = join(dir, 'missing', 'x.sock');
    await assert.rejects(
      listenOn(httpServer('nodir'), { kind: 'unix', path }),
      new RegExp(
        `^Error: ${path}: cannot create a socket in ${join(dir, 'missing')} \\(ENOENT\\)$`,
      ),
    );
  });

  it('refuses a mode that is not a permission mode', async () => {
    await assert.rejects(
      listenOn(httpServer('m'), { kind: 'unix', path: join(dir, 'm.sock'), mode: 0o4777 }),
      /socket mode must be a permission mode from 0 to 0o777, got 2559/,
    );
  });
});

describe('listening on TCP and on descriptors', () => {
  it('listens on a free loopback port and reports it', async () => {
    const server = httpServer('tcp');
    const listener = await listenOn(server, { kind: 'tcp', host: '127.0.0.1', port: 0 });
    try {
      assert.equal(listener.address.kind, 'tcp');
      assert.ok(listener.address.kind === 'tcp' && listener.address.port > 0);
    } finally {
      listener.close();
    }
  });

  it('names the descriptor when it is not a socket it can listen on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xjs-fd-'));
    const fd = openSync(join(dir, 'file'), 'w');
    try {
      await assert.rejects(
        listenOn(httpServer('fd'), { kind: 'fd', fd, name: 'web' }),
        new RegExp(`^Error: cannot listen on fd ${fd} \\(web\\): it is not a socket$`),
      );
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses descriptors below 3, which are stdin, stdout and stderr', async () => {
    await assert.rejects(
      listenOn(httpServer('fd'), { kind: 'fd', fd: 1 }),
      /fd must be a descriptor number >= 3, got 1/,
    );
  });
});

describe('socketActivationTargets', () => {
  it('is undefined without the variables, or when they were meant for another process', () => {
    assert.equal(socketActivationTargets({}, 100), undefined);
    assert.equal(socketActivationTargets({ LISTEN_FDS: '1' }, 100), undefined);
    assert.equal(socketActivationTargets({ LISTEN_FDS: '1', LISTEN_PID: '99' }, 100), undefined);
  });

  it('numbers the descriptors from 3 and names them from LISTEN_FDNAMES', () => {
    assert.deepEqual(
      socketActivationTargets(
        { LISTEN_FDS: '2', LISTEN_PID: '100', LISTEN_FDNAMES: 'web:admin' },
        100,
      ),
      [
        { kind: 'fd', fd: 3, name: 'web' },
        { kind: 'fd', fd: 4, name: 'admin' },
      ],
    );
  });

  it('calls descriptors without a name "unknown", as systemd does', () => {
    assert.deepEqual(socketActivationTargets({ LISTEN_FDS: '2', LISTEN_PID: '7' }, 7), [
      { kind: 'fd', fd: 3, name: 'unknown' },
      { kind: 'fd', fd: 4, name: 'unknown' },
    ]);
    assert.deepEqual(
      socketActivationTargets({ LISTEN_FDS: '2', LISTEN_PID: '7', LISTEN_FDNAMES: 'web' }, 7),
      [
        { kind: 'fd', fd: 3, name: 'web' },
        { kind: 'fd', fd: 4, name: 'unknown' },
      ],
    );
  });

  it('names the variable that is malformed', () => {
    assert.throws(
      () => socketActivationTargets({ LISTEN_FDS: 'two', LISTEN_PID: '7' }, 7),
      /^RangeError: LISTEN_FDS must be a whole number from 1 to 1024, got 'two'$/,
    );
    assert.throws(
      () => socketActivationTargets({ LISTEN_FDS: '0', LISTEN_PID: '7' }, 7),
      /LISTEN_FDS must be a whole number from 1 to 1024, got '0'/,
    );
    assert.throws(
      () => socketActivationTargets({ LISTEN_FDS: '1', LISTEN_PID: 'me' }, 7),
      /^RangeError: LISTEN_PID must be a process id, got 'me'$/,
    );
  });
});
