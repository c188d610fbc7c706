// Flow control: a client that stops reading pauses the shell (bounded server memory, the shell
// blocked, not killed), and when it reads again nothing is missing, exit included.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  closeSync,
  constants as fsConstants,
  existsSync,
  openSync,
  readFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { LegacyClient, V1Client } from '../helpers/clients.js';
import { randomBytesSeeded, sha256, shellQuote, TempDir } from '../helpers/handler-data.js';
import {
  bytesWritten,
  expectNothingLeft,
  newDescendants,
  settledRss,
  takeBaseline,
  waitForSteady,
  type Baseline,
} from '../helpers/handler-leaks.js';
import { startHandlerServer } from '../helpers/handler-server.js';
import { closeOf, typeAndMatch, waitForTail } from '../helpers/handler-shell.js';
import { DEFAULT_HIGH_WATER_BYTES } from '../../src/server/connection/handler-options.js';
import { descendants } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait-for.js';

const MIB = 1024 * 1024;
/** The bar: a client that stops reading costs the server at most this much memory. */
const MEMORY_BUDGET = 4 * MIB;
/** node-pty reads the pty through a libuv stream: at most 64 KiB per read. */
const PTY_CHUNK = 64 * 1024;
const HIGH_WATER = DEFAULT_HIGH_WATER_BYTES;
/** How long a value must stay unchanged to count as stopped. */
const QUIET_MS = 500;

/** `seq 1 n` as a terminal shows it (the pty turns LF into CR LF). */
function sequence(n: number): string {
  return Array.from({ length: n }, (_, i) => `${i + 1}\r\n`).join('');
}

/** The pid of the one descendant running `command`. */
async function pidOf(command: string): Promise<number> {
  const info = await waitFor(() => descendants().find((entry) => entry.command === command), {
    message: `a ${command} process`,
  });
  return info.pid;
}

/** Waits until `pid` stops writing: the pty is no longer read. Returns what it wrote by then. */
async function waitUntilBlocked(pid: number): Promise<number> {
  return waitForSteady(() => bytesWritten(pid) ?? -1, QUIET_MS, { timeout: 20_000 });
}

function megabytes(bytes: number): string {
  return `${(bytes / MIB).toFixed(2)} MiB`;
}

let baseline: Baseline;
let temp: TempDir;
before(() => {
  baseline = takeBaseline();
  temp = new TempDir();
});
after(async () => {
  temp.dispose();
  await expectNothingLeft(baseline);
});

describe('a v1 client that stops acknowledging', () => {
  /** Floods with `yes` until the shell blocks; returns the bytes received and the stall point. */
  async function stallWithYes(client: V1Client) {
    client.autoAck = false;
    client.ack();
    const start = client.outputLength;
    client.sendInput('yes\r');
    const yes = await pidOf('yes');
    const stalledAt = await waitForSteady(() => client.outputLength, QUIET_MS, {
      timeout: 20_000,
    });
    await waitUntilBlocked(yes);
    return { yes, stalledAt, received: stalledAt - start };
  }

  /** Acknowledges again: output must flow past the stall; then Ctrl+C brings the prompt back. */
  async function recover(client: V1Client, stalledAt: number, marker: number) {
    client.autoAck = true;
    client.ack();
    await waitFor(() => client.outputLength > stalledAt + 2 * HIGH_WATER, {
      message: 'output to flow again after the acknowledgement',
    });
    client.sendInput('\x03');
    await typeAndMatch(
      client,
      `echo "after=$((${marker}+1)):"`,
      new RegExp(`after=${marker + 1}:`),
    );
  }

  it('gets the shell paused: output stops below the high-water mark and server memory stays bounded', async (t) => {
    const server = await startHandlerServer();
    try {
      const client = new V1Client(server.url, { autoAck: false });
      const hello = await client.waitForHello();
      assert.equal(hello.limits.highWaterBytes, HIGH_WATER);
      // Warm-up: one whole stall and recovery, so later growth is what the stall itself holds.
      await recover(client, (await stallWithYes(client)).stalledAt, 1);
      const before = await settledRss();

      const { yes, stalledAt, received } = await stallWithYes(client);
      const grown = (await settledRss()) - before;
      t.diagnostic(`stalled after ${received} bytes; server RSS grew ${megabytes(grown)}`);
      assert.ok(
        received > HIGH_WATER && received <= HIGH_WATER + PTY_CHUNK,
        `received ${received} bytes unacknowledged: above the mark, at most one pty read past it`,
      );
      assert.ok(grown <= MEMORY_BUDGET, `server memory grew ${megabytes(grown)} while stalled`);
      assert.ok(
        descendants().some((entry) => entry.pid === yes),
        'yes is paused, not killed',
      );

      await recover(client, stalledAt, 2);
      client.close();
      await closeOf(client);
    } finally {
      await server.close();
    }
  });

  it('loses nothing across the stall: `seq 1 300000` arrives complete and in order', async () => {
    const server = await startHandlerServer();
    try {
      const client = new V1Client(server.url, { autoAck: false });
      await typeAndMatch(client, 'echo "ready=$((6*7)):"', /ready=42:/);
      client.ack();
      const start = client.outputLength;
      client.sendInput('seq 1 300000; echo "end=$((6*7)):"\r');
      await waitUntilBlocked(await pidOf('seq'));
      client.autoAck = true;
      client.ack();
      await waitForTail(client, 'end=42:');
      const text = client.output().subarray(start).toString('latin1');
      // After the echoed command line (and bash's bracketed-paste switch) comes `1\r\n2\r\n3`.
      const first = text.indexOf('1\r\n2\r\n3\r\n');
      assert.ok(first > 0, 'the sequence starts after the echoed command line');
      assert.ok(
        text.slice(first, text.indexOf('end=42:')) === sequence(300000),
        'complete, in order',
      );
      client.close();
      await closeOf(client);
    } finally {
      await server.close();
    }
  });
});

describe('a legacy client whose socket stops reading', () => {
  it('gets the shell paused with bounded server memory, and loses nothing after it reads again', async (t) => {
    // A UNIX socket: TCP on loopback buffers ~4 MB in the kernel before the server sees anything.
    const server = await startHandlerServer({}, { socketPath: join(temp.path, 'legacy.sock') });
    try {
      const client = new LegacyClient(server.url);
      await typeAndMatch(client, 'echo "ready=$((6*7)):"', /ready=42:/);
      const tcp = (client.socket as unknown as { _socket: { pause(): void; resume(): void } })
        ._socket;

      /** Stops reading the socket while `seq` prints `expected`; checks run while it is blocked. */
      async function stall(
        expected: string,
        marker: number,
        whileBlocked: (written: number) => Promise<void>,
      ) {
        const start = client.outputLength;
        tcp.pause();
        client.sendInput(
          `seq 1 ${expected.split('\r\n').length - 1}; echo "end=$((${marker}+1)):"\r`,
        );
        const written = await waitUntilBlocked(await pidOf('seq'));
        assert.ok(written < expected.length, `seq blocked after ${written} of ${expected.length}`);
        await whileBlocked(written);
        tcp.resume();
        await waitForTail(client, `end=${marker + 1}:`, { timeout: 30_000 });
        const text = client.output().subarray(start).toString('latin1');
        // After the echoed command line (and bash's bracketed-paste switch) comes `1\r\n2\r\n3`.
        const first = text.indexOf('1\r\n2\r\n3\r\n');
        assert.ok(first > 0, 'the sequence starts after the echoed command line');
        assert.ok(
          text.slice(first, text.indexOf(`end=${marker + 1}:`)) === expected,
          'complete, in order',
        );
      }

      // Warm-up: one whole stall, so later growth is what the stall itself holds.
      await stall(sequence(150_000), 1, async () => {});
      // Built first: the test's own multi-megabyte string must not count as server memory.
      const expected = sequence(300_000);
      const before = await settledRss();
      await stall(expected, 2, async (written) => {
        const grown = (await settledRss()) - before;
        t.diagnostic(`seq blocked after ${written} bytes; server RSS grew ${megabytes(grown)}`);
        assert.ok(grown <= MEMORY_BUDGET, `server memory grew ${megabytes(grown)} while stalled`);
      });
      client.close();
      await closeOf(client);
    } finally {
      await server.close();
    }
  });
});

describe('a shell that prints 2 MB and exits while the client does not acknowledge', () => {
  it('delivers every byte and then the exit status once the client acknowledges', async (t) => {
    const data = randomBytesSeeded(2 * MIB, 0xe817);
    const path = temp.file('exit-while-paused.bin', data);
    // The mark sits 14 KB before the end: the server pauses with about that much unread, which
    // still fits in the kernel's pty buffer, so the shell exits while paused: node-pty destroys
    // its read stream on the EIO or 200 ms after the exit, with that output still unread.
    const tail = 14_000;
    const highWaterBytes = data.length - tail;
    const server = await startHandlerServer({
      userShellCommand: ['/bin/sh', '-c', `stty raw -echo && cat ${shellQuote(path)}`],
      flowControl: { highWaterBytes, lowWaterBytes: Math.floor(highWaterBytes / 4) },
    });
    try {
      const client = new V1Client(server.url, { autoAck: false });
      // The shell is spawned before the hello is sent: once it is no longer there, it exited.
      await client.waitForHello();
      try {
        await waitFor(() => newDescendants(baseline).length === 0 || client.closeInfo, {
          timeout: 30_000,
        });
      } catch {
        assert.fail(
          `the shell to exit without any acknowledgement; after ${client.outputLength} bytes: ${JSON.stringify(newDescendants(baseline).map((info) => [info.command, info.state, bytesWritten(info.pid)]))}; flow: ${JSON.stringify(server.logs.filter((line) => /paused|resumed/.test(line.msg)))}`,
        );
      }
      t.diagnostic(`${client.outputLength} of ${data.length} bytes arrived before any ack`);
      // Past node-pty's 200 ms: unread pty data must survive it (a deadline, not an assertion).
      const exited = Date.now();
      await waitFor(() => client.closeInfo !== undefined || Date.now() - exited > 500);
      client.autoAck = true;
      client.ack();
      assert.deepEqual(await closeOf(client), { code: 1000, reason: 'shell exit code 0' });
      assert.deepEqual(client.exit, { code: 0, signal: null });
      assert.equal(client.outputLength, data.length, 'every byte arrived');
      assert.equal(sha256(client.output()), sha256(data));
    } finally {
      await server.close();
    }
  });
});

describe('a paste into a shell that is not reading', () => {
  it('does not grow server memory with the paste, and the shell reads every byte later', async (t) => {
    const data = randomBytesSeeded(5 * MIB, 0x9a57e);
    const path = temp.file('paste.bin', data);
    const fifo = join(temp.path, 'go');
    const out = join(temp.path, 'sha256');
    execFileSync('mkfifo', [fifo]);
    // Raw mode first (the paste holds ^C bytes: signals in line mode), then the shell says it is
    // ready and waits on the FIFO before it reads its terminal at all.
    const script =
      `stty raw -echo && echo "ready=$((6*7)):" && read go < ${shellQuote(fifo)} && ` +
      `head -c ${data.length} | sha256sum > ${shellQuote(out)}.part && mv ${shellQuote(out)}.part ${shellQuote(out)}`;
    // A UNIX socket: its small kernel buffers leave most of the paste with the paster.
    const server = await startHandlerServer(
      { userShellCommand: ['/bin/sh', '-c', script] },
      { socketPath: join(temp.path, 'paste.sock') },
    );
    const paster = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(new URL('../helpers/handler-paster.ts', import.meta.url)),
        server.url,
        path,
        'ready=42:',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let exitCode: number | null | undefined;
    const pasterExited = new Promise<void>((resolve) =>
      paster.once('exit', (code) => {
        exitCode = code;
        resolve();
      }),
    );
    try {
      let buffered = -1;
      paster.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        const last = /buffered (\d+)\n$/.exec(chunk);
        if (last !== null) {
          buffered = Number(last[1]);
        }
      });
      const before = await settledRss();
      await waitFor(() => buffered >= 0, {
        message: 'the paster to connect and paste',
        timeout: 30_000, // a second node process with tsx: slow to start on a busy machine
      });
      // The paster's socket stops draining once the server stops taking input.
      const held = await waitForSteady(() => buffered, QUIET_MS, { timeout: 20_000 });
      const grown = (await settledRss()) - before;
      t.diagnostic(`the paster still holds ${held} bytes; server RSS grew ${megabytes(grown)}`);
      // Else the kernel's socket buffers took the whole paste and this test would prove nothing.
      assert.ok(held > 0, 'part of the paste waits in the client');
      assert.ok(grown <= MEMORY_BUDGET, `server memory grew ${megabytes(grown)}`);

      assert.ok(
        newDescendants(baseline).some((entry) => entry.command === 'sh'),
        'the shell is still there, waiting',
      );
      // O_NONBLOCK: with no shell reading the FIFO this fails (ENXIO) instead of hanging the test.
      const release = openSync(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
      writeSync(release, 'go\n');
      closeSync(release);
      await waitFor(() => existsSync(out), {
        message: 'the shell to read the whole paste',
        timeout: 30_000,
      });
      assert.equal(readFileSync(out, 'utf8').split(' ')[0], sha256(data));
      // It leaves once the shell exits and the server closes the connection.
      assert.deepEqual(await waitFor(() => exitCode !== undefined && { exitCode }), {
        exitCode: 0,
      });
    } finally {
      paster.kill();
      await pasterExited;
      await server.close();
    }
  });
});
