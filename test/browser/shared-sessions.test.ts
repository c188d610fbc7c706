// One shell, many screens, in Chromium: A starts a shell; B joins it with #session=ID (sees
// the screen and the live output, types into the same shell, and renders at the size the screen
// that typed last gave the shell); C watches through a read-only link made in A's Share panel
// and can type nothing into the shell; closing B leaves A and C be; revoking C's link in A's
// panel cuts C off at once, and C's reload is refused with the reason; A cuts off a read-write
// screen; the Sessions menu attaches a page to another shell without a reload, or opens it in a
// new tab. Then ten plain WebSocket viewers of one flood receive the same bytes in order.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import {
  bufferText,
  closeBrowserSuite,
  DEADLINE,
  DESKTOP,
  loadPage,
  openBrowserSuite,
  openShell,
  pageUrl,
  processBaseline,
  PROMPT,
  runCommand,
  saveScreenshot,
  startCli,
  statusText,
  typeCommand,
  waitForBuffer,
  waitForState,
  type BrowserSuite,
} from '../helpers/browser.js';
import { V1Client } from '../helpers/clients.js';
import { waitFor } from '../helpers/wait-for.js';

/** The shell's pid, as the shell itself says it. */
async function shellPid(page: Page): Promise<number> {
  const text = await runCommand(page, 'echo "pid=$$."');
  const pid = /^pid=(\d+)\.$/m.exec(text)?.[1];
  assert.ok(pid !== undefined, `no pid in:\n${text}`);
  return Number(pid);
}

async function sessionIdOf(page: Page): Promise<string> {
  const id = await page.evaluate(() => window.xtermJsShell.sessionId);
  assert.match(id ?? '', /^[0-9a-f]{32}$/);
  return id as string;
}

async function termSize(page: Page): Promise<string> {
  return page.evaluate(() => `${window.term.cols}x${window.term.rows}`);
}

/** What the shell says its terminal size is (`stty size`: rows cols), as `COLSxROWS`. */
async function sttySize(page: Page): Promise<string> {
  const text = await runCommand(page, 'echo "size=$(stty size)."');
  const found = /^size=(\d+) (\d+)\.$/m.exec(text);
  assert.ok(found !== null, `no size in:\n${text}`);
  return `${found[2]}x${found[1]}`;
}

async function stateOf(page: Page): Promise<string | undefined> {
  return page.evaluate(() => document.getElementById('status')?.dataset.state);
}

async function visibleText(page: Page, selector: string): Promise<string> {
  const locator = page.locator(selector);
  return (await locator.isVisible()) ? (await locator.innerText()).trim() : '';
}

describe('one shell, many screens', () => {
  let suite: BrowserSuite;
  /** Another person's browser: the share links' pages. */
  let guest: BrowserContext;
  let a: Page;
  let b: Page;
  let c: Page;
  let pidA: number;
  let sessionA: string;
  const baseline = processBaseline();

  before(async () => {
    suite = await openBrowserSuite(DESKTOP);
    guest = await suite.browser.newContext(DESKTOP);
  });

  after(async () => {
    await guest?.close();
    await closeBrowserSuite(suite ?? {}, baseline);
  });

  function withDom(link: string): string {
    const url = new URL(link);
    url.searchParams.set('renderer', 'dom');
    return url.href;
  }

  /** A's Share panel, open. */
  async function openSharePanel(): Promise<void> {
    if (!(await a.locator('#share').isVisible())) {
      await a.locator('#share-toggle').click();
    }
    await a.locator('#share').waitFor({ state: 'visible' });
  }

  it('B joins A’s shell with #session=ID: sees its screen and live output, and types into it', async () => {
    a = await openShell(suite.page, pageUrl(suite.cli, { renderer: 'dom' }));
    pidA = await shellPid(a);
    sessionA = await sessionIdOf(a);
    await runCommand(a, 'echo "before-$((20+1))-B"');
    assert.equal(await visibleText(a, '#viewers-badge'), '', 'alone: no count of screens');
    assert.ok(await a.locator('#share-toggle').isVisible(), 'the owner may share');

    // B: a smaller window, in the same browser (the token's owner on another tab).
    b = await suite.context.newPage();
    await b.setViewportSize({ width: 900, height: 560 });
    const token = suite.cli.token as string;
    await loadPage(b, `${suite.cli.base}?renderer=dom#token=${token}&session=${sessionA}`);
    await waitForState(b, 'connected');
    assert.equal(await statusText(b), 'Connected to a running shell');
    assert.equal(new URL(b.url()).hash, '', 'the token and the id left the address bar');
    await waitForBuffer(b, 'before-21-B'); // A's screen, replayed
    assert.equal(await sessionIdOf(b), sessionA);
    await waitFor(async () => (await visibleText(a, '#viewers-badge')) === '2 screens', {
      message: 'A to count two screens',
    });

    // B renders at the shell's size (A's), held, while A drives it.
    const sizeA = await termSize(a);
    assert.equal(await termSize(b), sizeA, 'B draws at the size A gave the shell');
    assert.equal(await visibleText(b, '#size-badge'), sizeA.replace('x', '×'));

    // A's output reaches B live.
    await typeCommand(a, 'echo "live-$((40+2))-from-A"');
    await waitForBuffer(b, 'live-42-from-A');

    // B types: the same shell runs it (A sees it too), and B now drives the size.
    assert.equal(await shellPid(b), pidA, 'B typed into A’s shell');
    await waitForBuffer(a, /^pid=\d+\.$[\s\S]*^pid=\d+\.$/m);
    const sizeB = await sttySize(b);
    assert.notEqual(sizeB, sizeA, 'B’s window is smaller than A’s');
    assert.equal(await termSize(b), sizeB, 'B fits its window once it types');
    assert.equal(await visibleText(b, '#size-badge'), '', 'B drives: no held size');
    await waitFor(async () => (await termSize(a)) === sizeB, {
      message: `A to follow B's size ${sizeB}`,
    });
    assert.equal(await visibleText(a, '#size-badge'), sizeB.replace('x', '×'));

    // A types again: it drives again, B follows.
    assert.equal(await sttySize(a), sizeA);
    await waitFor(async () => (await termSize(b)) === sizeA, { message: 'B to follow A again' });
    assert.equal(await visibleText(a, '#size-badge'), '', 'A drives: no held size');
    assert.equal(await termSize(a), sizeA);
  });

  it('C watches through a read-only link made in A’s Share panel, and types nothing into the shell', async () => {
    await openSharePanel();
    // Read-only and 1 hour are the defaults.
    assert.equal(await a.locator('#share-form input[value="reader"]').isChecked(), true);
    assert.equal(await a.locator('#share-form select[name="expiresIn"]').inputValue(), '3600');
    await a.getByRole('button', { name: 'Create link' }).click();
    await a.locator('#share-result').waitFor({ state: 'visible' });
    const link = await a.locator('#share-link').inputValue();
    assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/#share=xjs-share-[\w-]{43}$/);
    assert.match(await a.locator('#share-hint').innerText(), /watch \(read-only\).*1 h 00 min/);
    await waitFor(async () => (await a.locator('#share-links [data-share-id]').count()) === 1, {
      message: 'the link in the list of live links',
    });
    await a.keyboard.press('Escape');

    c = await guest.newPage();
    await loadPage(c, withDom(link));
    await waitForState(c, 'connected');
    assert.match(await statusText(c), /read-only/);
    assert.equal(await visibleText(c, '#role-badge'), 'READ-ONLY');
    assert.equal(new URL(c.url()).hash, '', 'the secret left the address bar');
    assert.equal(await c.locator('#sessions-toggle').isVisible(), false, 'no credential: no menu');
    assert.equal(await c.locator('#share-toggle').isVisible(), false);
    await waitForBuffer(c, 'live-42-from-A'); // the screen so far
    assert.equal(await termSize(c), await termSize(a), 'C draws at the shell’s size');

    await typeCommand(a, 'echo "for-C-$((5*5))"');
    await waitForBuffer(c, 'for-C-25');

    // C types a command: the page sends nothing (the server would close it with 4013 if it did).
    await c.locator('#terminal').click();
    await typeCommand(c, 'echo sneaky-$((3*3))-word');
    const seen = await runCommand(a, `echo "seen=$(history | grep -c 'sneak[y]')."`);
    assert.match(seen, /^seen=0\.$/m, 'the shell never got C’s line');
    assert.doesNotMatch(await bufferText(a), /sneaky|sneak-9/);
    // Had the page sent a byte, the server would have closed it (4013, read-only).
    assert.equal(await stateOf(c), 'connected', `C says: ${await statusText(c)}`);
    await waitForBuffer(c, 'seen=0.');
    assert.match(await visibleText(c, '#notice'), /Read-only: .* what you type is not sent/);
  });

  it('closing B leaves A and C connected; A’s panel says who is watching', async () => {
    await waitFor(async () => (await visibleText(a, '#viewers-badge')) === '3 screens', {
      message: 'A to count three screens',
    });
    await openSharePanel();
    const rows = a.locator('#share-viewers [data-viewer-id]');
    await waitFor(async () => (await rows.count()) === 3, { message: 'three rows of screens' });
    const texts = (await rows.allInnerTexts()).map((text) => text.replace(/\s+/g, ' '));
    assert.ok(
      texts.some((text) => /^owner this page · since/.test(text)),
      texts.join(' | '),
    );
    assert.ok(texts.some((text) => /^owner with the access token · since .* Cut off$/.test(text)));
    assert.ok(
      texts.some((text) => /^read-only through link [0-9a-f]{6} · since .* Cut off$/.test(text)),
    );
    await saveScreenshot(a, 'desktop-share', { docs: true });

    await b.close();
    await waitFor(async () => (await rows.count()) === 2, { message: 'B gone from the list' });
    await waitFor(async () => (await visibleText(a, '#viewers-badge')) === '2 screens', {
      message: 'A to count two screens',
    });
    await a.keyboard.press('Escape');
    assert.equal(await shellPid(a), pidA);
    await runCommand(a, 'echo "after-B-$((1+1))"');
    await waitForBuffer(c, 'after-B-2');
    assert.equal(await stateOf(c), 'connected', `C says: ${await statusText(c)}`);
  });

  it('revoking C’s link in A’s panel cuts C off at once, and C’s reload is refused with the reason', async () => {
    await openSharePanel();
    const row = a.locator('#share-links [data-share-id]');
    await row.getByRole('button', { name: 'Revoke' }).click();
    const revokedAt = Date.now();
    await waitForState(c, 'disconnected', 5000);
    const took = Date.now() - revokedAt;
    assert.ok(took < 3000, `cut off in ${took} ms`);
    assert.match(await statusText(c), /share link was revoked/);
    await waitFor(async () => (await row.count()) === 0, {
      message: 'the link gone from the list',
    });
    await a.keyboard.press('Escape');

    await c.reload();
    await waitForState(c, 'disconnected');
    assert.match(await statusText(c), /share link was revoked or has expired/);
    assert.equal(await stateOf(a), 'connected', `A says: ${await statusText(a)}`);
    await c.close();
  });

  it('a read-write link types into the shell; A cuts that screen off from its panel', async () => {
    const token = suite.cli.token as string;
    const response = await fetch(new URL(`api/sessions/${sessionA}/shares`, suite.cli.base), {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ role: 'writer', expiresIn: 600 }),
    });
    assert.equal(response.status, 201);
    const share = (await response.json()) as { url: string };
    const d = await guest.newPage();
    await loadPage(d, withDom(new URL(share.url, suite.cli.base).href));
    await waitForState(d, 'connected');
    assert.equal(await visibleText(d, '#role-badge'), 'SHARED LINK');
    await waitForBuffer(d, PROMPT);
    assert.equal(await shellPid(d), pidA, 'a writer types into the shell');

    await openSharePanel();
    const writerRow = a.locator('#share-viewers [data-role="writer"]');
    await writerRow.getByRole('button', { name: 'Cut off' }).click();
    await waitForState(d, 'disconnected', 5000);
    assert.match(await statusText(d), /cut this page off|revoked/);
    await waitFor(async () => (await writerRow.count()) === 0, { message: 'D gone from the list' });
    await a.keyboard.press('Escape');
    await d.close();
  });

  it('the Sessions menu lists the shells, attaches this page to another without a reload, and opens one in a new tab', async () => {
    const e = await openShell(suite.context, pageUrl(suite.cli, { renderer: 'dom' }));
    const pidE = await shellPid(e);
    assert.notEqual(pidE, pidA);
    await runCommand(e, 'echo "only-in-$((7*6))-E"');

    await e.locator('#sessions-toggle').click();
    const rows = e.locator('#sessions-list [data-session-id]');
    await waitFor(async () => (await rows.count()) === 2, { message: 'two shells listed' });
    const current = e.locator('#sessions-list [data-current]');
    assert.match(await current.innerText(), /this page/);
    const rowA = e.locator(`#sessions-list [data-session-id="${sessionA}"]`);
    const textA = (await rowA.innerText()).replace(/\s+/g, ' ');
    assert.match(textA, /\/bin\/bash --norc --noprofile/);
    assert.match(textA, /started .* ago · idle \d+ (s|min) · \d+×\d+ · 1 screen \(owner\)/);

    await rowA.getByRole('button', { name: 'Attach' }).click();
    await waitForState(e, 'connected');
    await waitForBuffer(e, 'after-B-2'); // A's screen
    assert.doesNotMatch(await bufferText(e), /only-in-42-E/, 'the terminal was cleared first');
    assert.equal(await sessionIdOf(e), sessionA);
    assert.equal(await shellPid(e), pidA);
    assert.match(await visibleText(e, '#notice'), /waits 60 s for a screen/);

    await e.locator('#sessions-toggle').click();
    await waitFor(async () => (await rows.count()) === 2, { message: 'two shells listed' });
    await e.locator(`#sessions-list [data-current][data-session-id="${sessionA}"]`).waitFor();
    const other = e.locator('#sessions-list [data-session-id]:not([data-current])');
    const otherId = await other.getAttribute('data-session-id');
    const [tab] = await Promise.all([
      suite.context.waitForEvent('page'),
      other.getByRole('button', { name: 'New tab' }).click(),
    ]);
    await waitForState(tab, 'connected');
    await waitForBuffer(tab, 'only-in-42-E'); // E's first shell, which waited for a screen
    assert.equal(await sessionIdOf(tab), otherId);
    assert.equal(new URL(tab.url()).hash, '', 'the token left the new tab’s address bar');
    assert.equal(await shellPid(tab), pidE);

    // End asks once more, then ends that shell: its screen says so.
    await e.bringToFront();
    if (!(await e.locator('#sessions').isVisible())) {
      await e.locator('#sessions-toggle').click();
    }
    await other.getByRole('button', { name: 'End' }).click();
    await other.getByRole('button', { name: 'End it?' }).click();
    await waitForState(tab, 'disconnected');
    assert.match(await statusText(tab), /ended/);
    await waitFor(async () => (await rows.count()) === 1, { message: 'one shell left' });
    await tab.close();
    await e.close();
  });

  it('a reader that fell behind is told how much it skipped, and carries on live', async () => {
    // A replay buffer smaller than what the reader misses while it is frozen.
    const small = await startCli(['--replay-buffer', '64K']);
    const owner = await suite.context.newPage();
    const reader = await guest.newPage();
    try {
      await openShell(owner, pageUrl(small, { renderer: 'dom' }));
      const sessionId = await sessionIdOf(owner);
      const response = await fetch(new URL(`api/sessions/${sessionId}/shares`, small.base), {
        method: 'POST',
        headers: { Authorization: `Bearer ${small.token as string}` },
        body: JSON.stringify({ role: 'reader' }),
      });
      const { url } = (await response.json()) as { url: string };
      await loadPage(reader, withDom(new URL(url, small.base).href));
      await waitForState(reader, 'connected');
      await waitForBuffer(reader, PROMPT);

      // The reader's page stops (its scripts paused): it reads and acknowledges nothing.
      const cdp = await guest.newCDPSession(reader);
      await cdp.send('Debugger.enable');
      await cdp.send('Debugger.pause');
      // More lines than the scrollback: the command line itself scrolls away.
      await typeCommand(owner, 'seq 1 150000; echo "flood-$((2+3))-end"');
      await waitForBuffer(owner, /^flood-5-end$/m);
      await cdp.send('Debugger.resume');
      await cdp.detach();

      await waitForBuffer(reader, /^flood-5-end$/m);
      const notice = await visibleText(reader, '#notice');
      const skipped = Number(/^(\d+) bytes skipped/.exec(notice)?.[1]);
      assert.ok(skipped > 100_000, `the reader says: ${notice}`);
      // Its offsets follow the gap: it acknowledges right, so the server goes on sending to it.
      await runCommand(owner, 'echo "after-skip-$((3+4))"');
      await waitForBuffer(reader, /^after-skip-7$/m);
      const [ownerAt, readerAt] = await Promise.all(
        [owner, reader].map((page) => page.evaluate(() => window.xtermJsShell.received)),
      );
      assert.equal(readerAt, ownerAt, 'the reader’s offset is the shell’s');
      assert.equal(
        await stateOf(reader),
        'connected',
        `the reader says: ${await statusText(reader)}`,
      );
    } finally {
      await reader.close();
      await owner.close();
      await small.close();
    }
  });

  it('ten viewers of one flood receive the same bytes in order', async () => {
    const wsUrl = suite.cli.base.replace(/^http/, 'ws');
    const credential = suite.cli.token as string;
    const owner = new V1Client(wsUrl, { credential, events: true });
    const hello = await owner.waitForHello();
    await owner.waitForText(PROMPT);
    const viewers = Array.from(
      { length: 10 },
      () => new V1Client(wsUrl, { credential, attach: hello.sessionId, events: true }),
    );
    const hellos = await Promise.all(viewers.map((viewer) => viewer.waitForHello()));
    const clients = [owner, ...viewers];
    const starts = [hello.offset, ...hellos.map((each) => each.offset)];
    await waitFor(
      () => clients.every((client) => client.eventsOf('viewers').at(-1)?.viewers.length === 11),
      { message: 'every client told that 11 watch' },
    );

    // More than the replay buffer (1 MiB): a viewer behind could not catch up from it.
    owner.sendInput('seq 1 200000; echo "flood-$((6*7))-done"\r');
    await Promise.all(
      clients.map((client) => client.waitForText('flood-42-done', { timeout: DEADLINE })),
    );
    const from = Math.max(...starts);
    const to = Math.min(...clients.map((client) => client.receivedOffset));
    assert.ok(to - from > 1_300_000, `compared ${to - from} bytes`);
    const digests = clients.map((client, index) => {
      const start = starts[index] as number;
      const bytes = client.output().subarray(from - start, to - start);
      return createHash('sha256').update(bytes).digest('hex');
    });
    assert.equal(new Set(digests).size, 1, `digests: ${digests.join(' ')}`);
    for (const client of clients) {
      assert.deepEqual(client.eventsOf('skipped'), [], 'nobody fell behind past the replay');
    }
    for (const client of clients) {
      client.close();
    }
    await Promise.all(clients.map((client) => client.closed));
  });
});
