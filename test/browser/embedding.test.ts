// The page in an iframe of another site: refused by default (CSP frame-ancestors 'none'), shown
// and working for an origin given with --frame-ancestors.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser, Frame, Page } from 'playwright-core';
import {
  assertNoStrayProcesses,
  bufferText,
  DESKTOP,
  launchBrowser,
  processBaseline,
  startCli,
  type CliServer,
} from '../helpers/browser.js';
import { waitFor } from '../helpers/wait-for.js';

/** Another site: a page that frames the URL in its `src` query parameter. */
async function startEmbedder(): Promise<Server> {
  const server = createServer((request, response) => {
    const src = new URL(request.url ?? '/', 'http://x').searchParams.get('src') ?? '';
    const attribute = src.replaceAll('&', '&amp;').replaceAll('"', '&quot;');
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end(
      `<!doctype html><title>console</title><iframe src="${attribute}" width="900" height="500"></iframe>`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** The frames of `page` whose document is our terminal page. */
async function shellFrames(page: Page): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (const frame of page.frames().filter((candidate) => candidate !== page.mainFrame())) {
    const isShell = await frame
      .evaluate(() => document.getElementById('status') !== null)
      .catch(() => false);
    if (isShell) {
      frames.push(frame);
    }
  }
  return frames;
}

describe('the page in a frame of another site', () => {
  let browser: Browser;
  let embedder: Server;
  let framed: CliServer;
  let unframed: CliServer;
  let embedderUrl: string;
  const baseline = processBaseline();

  before(async () => {
    embedder = await startEmbedder();
    embedderUrl = `http://127.0.0.1:${(embedder.address() as AddressInfo).port}/`;
    [browser, framed, unframed] = await Promise.all([
      launchBrowser(),
      startCli(['--frame-ancestors', embedderUrl.slice(0, -1)]),
      startCli(),
    ]);
  });

  after(async () => {
    await browser?.close();
    await framed?.close();
    await unframed?.close();
    await new Promise((resolve) => embedder?.close(resolve));
    await assertNoStrayProcesses(baseline);
  });

  it('is refused by default: the frame never shows the terminal', async () => {
    const page = await browser.newPage(DESKTOP);
    const refusals: string[] = [];
    page.on('console', (message) => {
      if (message.text().includes('frame-ancestors')) refusals.push(message.text());
    });
    await page.goto(`${embedderUrl}?src=${encodeURIComponent(unframed.url)}`);
    await page.waitForLoadState('load');
    await waitFor(() => refusals.length > 0, { message: 'Chromium to report the refusal' });
    assert.deepEqual(await shellFrames(page), []);
    await page.close();
  });

  it('is shown for an origin given with --frame-ancestors, and runs a typed command', async () => {
    const page = await browser.newPage(DESKTOP);
    await page.goto(`${embedderUrl}?src=${encodeURIComponent(framed.url)}`);
    let frame: Frame | undefined;
    await waitFor(async () => (frame = (await shellFrames(page))[0]) !== undefined, {
      message: 'the terminal page in the frame',
    });
    const shell = frame as Frame;
    await shell.waitForFunction(
      () => document.getElementById('status')?.dataset.state === 'connected',
    );
    await shell.locator('.xterm').click();
    await page.keyboard.type('echo framed-$((6*7))\n');
    await waitFor(async () => /^framed-42$/m.test(await bufferText(shell)), {
      message: 'the answer in the framed terminal',
    });
    await page.close();
  });
});
