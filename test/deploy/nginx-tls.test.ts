// deploy/nginx/xterm-js-shell.conf as shipped (only its ports, certificate and socket directory
// changed) in front of two users' servers on two UNIX sockets, driven by Chromium over https.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
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

describe('nginx with TLS in front of one server per user', () => {
  const baseline = processBaseline();
  let dir: string;
  let runDir: string;
  let cert: string;
  let httpsPort: number;
  let httpPort: number;
  let nginx: Nginx | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext;
  const servers = {} as Record<User, CliProcess>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xjs-nginx-'));
    // nginx's workers run as nobody in our group (as www-data does in production): the
    // directories let the group through, and --socket-mode 0660 lets it connect.
    chmodSync(dir, 0o750);
    runDir = join(dir, 'run');
    mkdirSync(runDir, { mode: 0o750 });
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
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    [httpsPort, httpPort] = [await freePort(), await freePort()];

    let config = readFileSync(CONF, 'utf8');
    config = replaceExactly(config, 'listen 443 ssl;', `listen 127.0.0.1:${httpsPort} ssl;`);
    config = replaceExactly(config, 'listen 80;', `listen 127.0.0.1:${httpPort};`);
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
    config = replaceExactly(config, 'unix:/run/xterm-js-shell/', `unix:${runDir}/`);

    for (const user of Object.keys(USERS) as User[]) {
      servers[user] = CliProcess.start({
        args: ['--socket', join(runDir, `${user}.sock`), '--socket-mode', '0660'],
        // Each server's shells know whose they are.
        env: { XTERM_JS_SHELL_TOKEN: USERS[user], DEPLOY_USER: user },
      });
    }
    const launched = launchBrowser(['--ignore-certificate-errors']);
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
    await browser?.close();
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
