// The original project's page, unchanged in behaviour, against our CLI: no subprotocol means the
// legacy text format, and typing a command shows its output.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import {
  assertNoStrayProcesses,
  DESKTOP,
  launchBrowser,
  processBaseline,
  PROMPT,
  startCli,
  type CliServer,
} from '../helpers/browser.js';
import { waitFor } from '../helpers/wait-for.js';

const FILES: Record<string, [string, string]> = {
  '/xterm/xterm.js': ['node_modules/@xterm/xterm/lib/xterm.js', 'text/javascript'],
  '/xterm/addon-fit.js': ['node_modules/@xterm/addon-fit/lib/addon-fit.js', 'text/javascript'],
  '/xterm/xterm.css': ['node_modules/@xterm/xterm/css/xterm.css', 'text/css'],
};
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A tiny static server for the original page (its own origin) and the xterm files it loads. */
async function startPageServer(shellAddress: () => string): Promise<Server> {
  const server = createServer((request, response) => {
    void (async () => {
      const path = new URL(request.url ?? '/', 'http://x').pathname;
      if (path === '/') {
        const html = await readFile(
          new URL('fixtures/original-index.html', import.meta.url),
          'utf8',
        );
        response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        response.end(html.replace('ws://HOST:PORT', `ws://${shellAddress()}`));
        return;
      }
      const file = FILES[path];
      if (file === undefined) {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { 'Content-Type': file[1] });
      response.end(await readFile(`${ROOT}${file[0]}`));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** The original page keeps its terminal in a global `const term`, not on window. */
async function originalBufferText(page: Page): Promise<string> {
  return page.evaluate(`(() => {
    const buffer = term.buffer.active;
    const lines = [];
    for (let row = 0; row < buffer.length; row++) {
      lines.push(buffer.getLine(row).translateToString(true));
    }
    return lines.join('\\n');
  })()`);
}

describe('the original project’s page against our server', () => {
  let browser: Browser;
  let cli: CliServer;
  let pageServer: Server;
  const baseline = processBaseline();

  before(async () => {
    pageServer = await startPageServer(() => new URL(cli.base).host);
    const pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
    [browser, cli] = await Promise.all([
      launchBrowser(),
      startCli(['--auth', 'none', '--allowed-origin', pageOrigin]),
    ]);
  });

  after(async () => {
    await browser?.close();
    await cli?.close();
    await new Promise((resolve) => pageServer?.close(resolve));
    await assertNoStrayProcesses(baseline);
  });

  it('shows the output of a typed command', async () => {
    assert.equal(cli.token, undefined, '--auth none prints a URL without a token');
    const context = await browser.newContext(DESKTOP);
    const page = await context.newPage();
    const origin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}/`;
    await page.goto(origin);
    await waitFor(async () => (await originalBufferText(page)).includes(PROMPT), {
      message: 'the prompt on the original page',
    });
    assert.match(await originalBufferText(page), /WebSocket connected!/);

    await page.locator('#terminal').click();
    await page.keyboard.type('echo legacy-$((6*7))');
    await page.keyboard.press('Enter');
    await waitFor(async () => /^legacy-42$/m.test(await originalBufferText(page)), {
      message: 'legacy-42 on the original page',
    });
    const text = await originalBufferText(page);
    assert.match(text, /^legacy-42$/m);
    assert.doesNotMatch(text, /\[Disconnected\]/);
    await context.close();
  });
});
