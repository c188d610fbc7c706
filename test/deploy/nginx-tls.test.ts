// deploy/nginx/xterm-js-shell.conf as shipped (only its ports, certificate and socket directory
// changed) in front of two users' servers on two UNIX sockets, driven by Chromium over https;
// then with its proxy timeouts cut to 2 s, in front of an idle shell with and without pings.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, typeCommand, waitForBuffer, waitForState } from '../helpers/browser.js';
import {
  assertNoStrayProcesses,
  CliProcess,
  freePort,
  processBaseline,
  ROOT,
  TEST_PROMPT,
} from '../helpers/cli-process.js';
import { Nginx } from '../helpers/nginx.js';

const CONF = join(ROOT, 'deploy/nginx/xterm-js-shell.conf');
const USERS = { alice: 'alice-token-0123456789abcdef', bob: 'bob-token-0123456789abcdef0' };
type User = keyof typeof USERS;

/** Replaces `from` in `text`, failing if the shipped config no longer has it `count` times. */
function replaceExactly(text: string, from: string | RegExp, to: string, count = 1): string {
  const pattern = new RegExp(
    typeof from === 'string' ? from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : from.source,
    'g',
  );
  const found = text.match(pattern)?.length ?? 0;
  assert.equal(found, count, `${CONF} should contain ${String(from)} ${count} time(s)`);
  return text.replace(pattern, to);
}

interface Response {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function fetchText(
  url: string,
  ca: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  const parsed = new URL(url);
  const send = parsed.protocol === 'https:' ? request : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { ca, headers }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A temp dir for nginx, with `run/` for the servers' sockets. nginx's workers run as nobody in
 * our group (as www-data does in production): the directories let the group through, and
 * --socket-mode 0660 lets it connect.
 */
function nginxDirs(): { dir: string; runDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'xjs-nginx-'));
  chmodSync(dir, 0o750);
  const runDir = join(dir, 'run');
  mkdirSync(runDir, { mode: 0o750 });
  return { dir, runDir };
}

/** A self-signed certificate for 127.0.0.1 as `dir`/cert.pem and key.pem; returns the PEM. */
function makeCertificate(dir: string): string {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  return readFileSync(join(dir, 'cert.pem'), 'utf8');
}

/** The shipped config with only its ports, certificate and socket directory changed. */
function shippedConfig(dirs: { dir: string; runDir: string }, https: number, http: number): string {
  const { dir, runDir } = dirs;
  let config = readFileSync(CONF, 'utf8');
  config = replaceExactly(config, 'listen 443 ssl;', `listen 127.0.0.1:${https} ssl;`);
  config = replaceExactly(config, 'listen 80;', `listen 127.0.0.1:${http};`);
  // The container may have no IPv6.
  config = replaceExactly(config, /\n *listen \[::\]:(80|443)( ssl)?;/, '', 2);
  config = replaceExactly(
    config,
    /ssl_certificate +\S+;/,
    `ssl_certificate ${join(dir, 'cert.pem')};`,
  );
  config = replaceExactly(
    config,
    /ssl_certificate_key +\S+;/,
    `ssl_certificate_key ${join(dir, 'key.pem')};`,
  );
  return replaceExactly(config, 'unix:/run/xterm-js-shell/', `unix:${runDir}/`);
}

describe('nginx with TLS in front of one server per user', () => {
  const baseline = processBaseline();
  let dir: string;
  let runDir: string;
  let cert: string;
  let httpsPort: number;
  let httpPort: number;
  let nginx: Nginx | undefined;
  let browser: Browser | undefined;
  let launched: Promise<Browser> | undefined;
  let context: BrowserContext;
  const servers = {} as Record<User, CliProcess>;

  before(async () => {
    ({ dir, runDir } = nginxDirs());
    cert = makeCertificate(dir);
    [httpsPort, httpPort] = [await freePort(), await freePort()];
    const config = shippedConfig({ dir, runDir }, httpsPort, httpPort);

    for (const user of Object.keys(USERS) as User[]) {
      servers[user] = CliProcess.start({
        args: ['--socket', join(runDir, `${user}.sock`), '--socket-mode', '0660'],
        // Each server's shells know whose they are.
        env: { XTERM_JS_SHELL_TOKEN: USERS[user], DEPLOY_USER: user },
      });
    }
    launched = launchBrowser(['--ignore-certificate-errors']);
    for (const user of Object.keys(USERS) as User[]) {
      assert.equal(
        await servers[user].printed(),
        `listening on unix:${join(runDir, `${user}.sock`)}; open it through your proxy`,
      );
    }
    nginx = await Nginx.start({
      dir,
      httpConfig: config,
      ports: [httpsPort, httpPort],
      workerUser: 'nobody root',
    });
    browser = await launched;
    context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  });

  after(async () => {
    // A step of before() that failed leaves the browser it started launching here.
    await (browser ?? (await launched?.catch(() => undefined)))?.close();
    await Promise.all(Object.values(servers).map((server) => server.kill()));
    await nginx?.stop();
    rmSync(dir, { recursive: true, force: true });
    await assertNoStrayProcesses(baseline);
  });

  async function openPage(user: User, token: string): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`https://127.0.0.1:${httpsPort}/xterm-js-shell/${user}/#token=${token}`);
    return page;
  }

  it("opens each user's page over https and reaches that user's own server", async () => {
    for (const user of Object.keys(USERS) as User[]) {
      const page = await openPage(user, USERS[user]);
      await waitForState(page, 'connected');
      await waitForBuffer(page, TEST_PROMPT);
      await typeCommand(page, 'echo "user-$DEPLOY_USER-$((6*7)) shell-$$"');
      await waitForBuffer(page, new RegExp(`^user-${user}-42 shell-\\d+$`, 'm'));
      const text = await page.evaluate(() => {
        const buffer = window.term.buffer.active;
        const lines: string[] = [];
        for (let row = 0; row < buffer.length; row++) {
          lines.push(buffer.getLine(row)?.translateToString(true) ?? '');
        }
        return lines.join('\n');
      });
      const shellPid = Number(new RegExp(`^user-${user}-42 shell-(\\d+)$`, 'm').exec(text)?.[1]);
      // The shell that answered is one this user's server started, and not the other's.
      const started = (server: CliProcess): unknown[] =>
        server
          .logs()
          .filter((line) => line.msg === 'shell started')
          .map((line) => line.shellPid);
      await servers[user].waitForLog('shell started', (line) => line.shellPid === shellPid);
      const other = user === 'alice' ? servers.bob : servers.alice;
      assert.ok(!started(other).includes(shellPid), `${shellPid} must not be the other's shell`);
      await page.close();
    }
  });

  it('passes the browser address as X-Forwarded-For, which the server logs', async () => {
    for (const server of Object.values(servers)) {
      const opened = await server.waitForLog('new WebSocket connection');
      assert.equal(opened.forwardedFor, '127.0.0.1');
    }
  });

  it("refuses one user's token at another user's server", async () => {
    const page = await openPage('bob', USERS.alice);
    await waitForState(page, 'auth-failed');
    await page.close();
  });

  it('serves /healthz under the user prefix, and redirects to the trailing slash', async () => {
    const base = `https://127.0.0.1:${httpsPort}/xterm-js-shell`;
    const health = await fetchText(`${base}/alice/healthz`, cert);
    assert.equal(health.status, 200);
    assert.equal((JSON.parse(health.body) as { status: string }).status, 'ok');

    const bare = await fetchText(`${base}/alice`, cert);
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.location, `https://127.0.0.1:${httpsPort}/xterm-js-shell/alice/`);
  });

  it('redirects plain http to https', async () => {
    const plain = await fetchText(`http://127.0.0.1:${httpPort}/xterm-js-shell/alice/`, cert);
    assert.equal(plain.status, 301);
    assert.equal(plain.headers.location, 'https://127.0.0.1/xterm-js-shell/alice/');
  });

  it('never turns a name outside the user pattern into a socket path', async () => {
    const base = `https://127.0.0.1:${httpsPort}`;
    for (const path of [
      '/xterm-js-shell/Alice/',
      '/xterm-js-shell/al.ice/',
      '/xterm-js-shell/-x/',
    ]) {
      const response = await fetchText(`${base}${path}`, cert);
      assert.equal(response.status, 404, path);
    }
    const encoded = await fetchText(`${base}/xterm-js-shell/..%2Falice/`, cert);
    assert.equal(encoded.status, 404);
    // A valid name without a server is a gateway error, not someone else's shell.
    const nobody = await fetchText(`${base}/xterm-js-shell/carol/`, cert);
    assert.equal(nobody.status, 502);
    assert.match(
      nginx!.errorLog(),
      new RegExp(`connect\\(\\) to unix:${runDir}/carol\\.sock failed`),
    );
  });

  it('stops each server on SIGTERM with exit 0, removing its socket', async () => {
    for (const user of Object.keys(USERS) as User[]) {
      assert.deepEqual(await servers[user].stop('SIGTERM'), { code: 0, signal: null });
      assert.equal(existsSync(join(runDir, `${user}.sock`)), false);
    }
  });
});

// ttyd#1441: an idle terminal behind nginx over TLS dropped after a few minutes, nginx's
// proxy_read_timeout. The server's pings (--ping-interval) are traffic from upstream, so a shell
// idle for several timeouts stays connected; without them nginx cuts it at the timeout.
describe('an idle shell behind nginx, whose proxy timeouts are shorter than the idle time', () => {
  /** proxy_read_timeout and proxy_send_timeout in this copy of the shipped config. */
  const TIMEOUT_S = 2;
  /** Idle for four timeouts. */
  const IDLE_MS = 4 * TIMEOUT_S * 1000;
  const SERVERS = {
    // --ping-interval below the timeouts, with margin: the rule in docs/deploy.md.
    pinging: { token: 'pinging-token-0123456789abcdef', args: ['--ping-interval', '1'] },
    silent: { token: 'silent-token-0123456789abcdef0', args: ['--ping-interval', '0'] },
  };
  type Name = keyof typeof SERVERS;
  const baseline = processBaseline();
  let dirs: { dir: string; runDir: string } | undefined;
  let httpsPort: number;
  let nginx: Nginx | undefined;
  let browser: Browser | undefined;
  let launched: Promise<Browser> | undefined;
  let context: BrowserContext;
  const servers = {} as Record<Name, CliProcess>;

  before(async () => {
    dirs = nginxDirs();
    makeCertificate(dirs.dir);
    httpsPort = await freePort();
    let config = shippedConfig(dirs, httpsPort, await freePort());
    config = replaceExactly(
      config,
      'proxy_read_timeout 300s;',
      `proxy_read_timeout ${TIMEOUT_S}s;`,
    );
    config = replaceExactly(
      config,
      'proxy_send_timeout 300s;',
      `proxy_send_timeout ${TIMEOUT_S}s;`,
    );
    for (const name of Object.keys(SERVERS) as Name[]) {
      const socket = join(dirs.runDir, `${name}.sock`);
      servers[name] = CliProcess.start({
        args: ['--socket', socket, '--socket-mode', '0660', ...SERVERS[name].args],
        env: { XTERM_JS_SHELL_TOKEN: SERVERS[name].token },
      });
    }
    launched = launchBrowser(['--ignore-certificate-errors']);
    for (const server of Object.values(servers)) {
      await server.printed();
    }
    nginx = await Nginx.start({
      dir: dirs.dir,
      httpConfig: config,
      ports: [httpsPort],
      workerUser: 'nobody root',
    });
    browser = await launched;
    context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  });

  after(async () => {
    // A step of before() that failed leaves the browser it started launching here.
    await (browser ?? (await launched?.catch(() => undefined)))?.close();
    await Promise.all(Object.values(servers).map((server) => server.kill()));
    await nginx?.stop();
    if (dirs !== undefined) {
      rmSync(dirs.dir, { recursive: true, force: true });
    }
    await assertNoStrayProcesses(baseline);
  });

  interface Recorded {
    /** The page's state changes, with when they happened (Date.now()). */
    readonly states: Array<{ state: string; at: number }>;
    /** When the terminal last took in output from the shell. */
    readonly lastOutputAt: number;
  }

  /** A connected page of `name`'s server, recording its states and output, with a command run. */
  async function idlePage(name: Name): Promise<Page> {
    const page = await context.newPage();
    await page.goto(
      `https://127.0.0.1:${httpsPort}/xterm-js-shell/${name}/?renderer=dom#token=${SERVERS[name].token}`,
    );
    await waitForState(page, 'connected');
    await waitForBuffer(page, TEST_PROMPT);
    await page.evaluate(() => {
      const recorded = { states: [] as Array<{ state: string; at: number }>, lastOutputAt: 0 };
      (window as unknown as { recorded: typeof recorded }).recorded = recorded;
      const status = document.getElementById('status') as HTMLElement;
      new MutationObserver(() =>
        recorded.states.push({ state: status.dataset.state ?? '', at: Date.now() }),
      ).observe(status, { attributes: true, attributeFilter: ['data-state'] });
      window.term.onWriteParsed(() => (recorded.lastOutputAt = Date.now()));
    });
    await typeCommand(page, 'echo "busy-$((6*7))"');
    await waitForBuffer(page, /^busy-42\nxjs\$ $/m);
    return page;
  }

  async function recorded(page: Page): Promise<Recorded> {
    return page.evaluate(() => (window as unknown as { recorded: Recorded }).recorded);
  }

  function connections(name: Name): number {
    return servers[name].logs().filter((line) => line.msg === 'new WebSocket connection').length;
  }

  it(`stays connected for ${IDLE_MS / 1000} s idle with --ping-interval 1, then still echoes`, async () => {
    const page = await idlePage('pinging');
    const opened = connections('pinging');
    await delay(IDLE_MS); // the scenario: nobody types, the shell prints nothing
    assert.deepEqual((await recorded(page)).states, [], 'the page stayed connected all along');
    await typeCommand(page, 'echo "still-$((6*7))"');
    await waitForBuffer(page, /^still-42$/m, 5000);
    assert.equal(connections('pinging'), opened, 'the same WebSocket, never reconnected');
    assert.doesNotMatch(nginx!.errorLog(), /upstream timed out/);
    await page.close();
  });

  it(`is cut by nginx after about ${TIMEOUT_S} s idle with --ping-interval 0`, async () => {
    const page = await idlePage('silent');
    const opened = connections('silent');
    await page.waitForFunction(
      () => document.getElementById('status')?.dataset.state === 'reconnecting',
      undefined,
      { timeout: IDLE_MS, polling: 50 },
    );
    const { states, lastOutputAt } = await recorded(page);
    const cut = states.find((entry) => entry.state === 'reconnecting')!;
    const idleFor = cut.at - lastOutputAt; // from the prompt after the command
    // nginx leaves a timer alone that would move by less than 300 ms (NGX_TIMER_LAZY_DELAY):
    // the prompt came right after the command's output, so the cut may come that much early.
    assert.ok(
      idleFor >= TIMEOUT_S * 1000 - 500 && idleFor <= TIMEOUT_S * 1000 + 2000,
      `cut after ${idleFor} ms idle, expected about ${TIMEOUT_S * 1000}`,
    );
    assert.match(nginx!.errorLog(), /upstream timed out .* while proxying upgraded connection/);
    // The page resumes the shell (the server kept it): until the next timeout.
    await waitForState(page, 'connected');
    await waitForBuffer(page, /^busy-42$/m);
    assert.ok(connections('silent') > opened, 'on a new WebSocket');
    console.log(`--ping-interval 0: nginx cut the WebSocket ${idleFor} ms after the last output`);
    await page.close();
  });
});
