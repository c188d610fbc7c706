// A tab the browser froze, or kept in its back-forward cache, types again within a second of
// coming back, into the same shell, with its screen kept (zellij#5571: dead input after the
// back-forward cache). Both lose the page's WebSocket: Chromium closes it when the page is frozen
// or enters the cache ("Page entered Back-Forward Cache"), and the page hears of it on return.
//
// Chromium is started here and attached over CDP without Playwright's defaults: a browser
// Playwright launches has the back-forward cache off (--disable-back-forward-cache), and the
// focus emulation it turns on for every page keeps the page visible, so that
// Page.setWebLifecycleState cannot freeze it (the call succeeds and nothing happens).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import {
  assertNoStrayProcesses,
  bufferText,
  CHROMIUM_ARGS,
  DEADLINE,
  openShell,
  pageUrl,
  processBaseline,
  runCommand,
  startCli,
  typeCommand,
  waitForBuffer,
  type CliServer,
} from '../helpers/browser.js';
import { waitFor } from '../helpers/wait-for.js';

/** Debian's Chromium, as launchBrowser uses it. */
const CHROMIUM = '/usr/bin/chromium';
/** How soon after coming back a typed command must have run and shown its output. */
const BACK_WITHIN_MS = 1000;
/**
 * The server pings every second and cuts a peer silent for a whole interval. A frozen page does
 * not stay silent, though: Chromium answers pings in its network process.
 */
const PING_INTERVAL_S = 1;
/** How long the tab stays frozen: several ping intervals. */
const FROZEN_MS = 4000;

interface OwnChromium {
  readonly child: ChildProcess;
  readonly profile: string;
  readonly browser: Browser;
}

/** Debian's Chromium with a fresh profile, attached over CDP with no Playwright defaults. */
async function startChromium(): Promise<OwnChromium> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install it with apt-get install -y chromium`);
  }
  const profile = await mkdtemp(join(tmpdir(), 'xjs-chromium-'));
  const child = spawn(
    CHROMIUM,
    [
      ...CHROMIUM_ARGS,
      '--remote-debugging-port=0',
      `--user-data-dir=${profile}`,
      '--window-size=1280,800',
      'about:blank',
    ],
    // Its own process group, so that its helpers (zygote, renderers) end with it.
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  try {
    const endpoint = await waitFor(
      () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`chromium exited: ${stderr}`);
        }
        return /DevTools listening on (ws:\/\/\S+)/.exec(stderr)?.[1];
      },
      { timeout: DEADLINE, message: 'Chromium to print its DevTools address' },
    );
    const browser = await chromium.connectOverCDP(endpoint, { noDefaults: true, isLocal: true });
    return { child, profile, browser };
  } catch (error) {
    await stopChromium({ child, profile });
    throw error;
  }
}

async function stopChromium(own: Partial<OwnChromium> & Pick<OwnChromium, 'child' | 'profile'>) {
  await own.browser?.close(); // disconnects; the process is ours to end
  const { child } = own;
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  if (!exited()) {
    process.kill(-child.pid!, 'SIGTERM');
    await waitFor(exited, { timeout: DEADLINE, message: 'Chromium to exit on SIGTERM' });
  }
  await rm(own.profile, { recursive: true, force: true });
}

/** The shell's pid, as the shell itself says it. */
async function shellPid(page: Page): Promise<number> {
  const text = await runCommand(page, 'echo "pid=$$."');
  const pid = /^pid=(\d+)\.$/m.exec(text)?.[1];
  assert.ok(pid !== undefined, `no pid in:\n${text}`);
  return Number(pid);
}

/** Records, in the page, the lifecycle events and page states from now on. */
async function recordLifecycle(page: Page): Promise<void> {
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { lifecycle: string[] }).lifecycle = seen;
    for (const name of ['freeze', 'resume', 'visibilitychange']) {
      document.addEventListener(name, () => seen.push(`${name} ${document.visibilityState}`));
    }
    for (const name of ['pagehide', 'pageshow']) {
      window.addEventListener(name, (event) =>
        seen.push(`${name} persisted=${String((event as PageTransitionEvent).persisted)}`),
      );
    }
    const status = document.getElementById('status') as HTMLElement;
    new MutationObserver(() => seen.push(`state ${status.dataset.state ?? ''}`)).observe(status, {
      attributes: true,
      attributeFilter: ['data-state'],
    });
  });
}

/** What recordLifecycle saw; undefined if the document was replaced (a fresh load). */
async function lifecycle(page: Page): Promise<string[] | undefined> {
  return page.evaluate(() => (window as unknown as { lifecycle?: string[] }).lifecycle);
}

/**
 * Waits for `line` (a whole line of output) a few times the bound at most, so that a page that
 * lost the keys fails in seconds, saying what the page went through; returns the time since
 * `since`.
 */
async function waitForLine(page: Page, line: string, since: number): Promise<number> {
  try {
    await waitForBuffer(page, new RegExp(`^${line}$`, 'm'), 5 * BACK_WITHIN_MS);
  } catch (error) {
    const seen = await lifecycle(page).catch(() => undefined);
    throw new Error(`${(error as Error).message}\npage events: ${seen?.join(', ') ?? '(none)'}`);
  }
  return Date.now() - since;
}

describe('a tab the browser froze or cached types again within a second', () => {
  let chromiumProcess: OwnChromium | undefined;
  let cli: CliServer | undefined;
  let context: BrowserContext;
  const baseline = processBaseline();

  before(async () => {
    [chromiumProcess, cli] = await Promise.all([
      startChromium(),
      startCli(['--ping-interval', String(PING_INTERVAL_S)]),
    ]);
    context = chromiumProcess.browser.contexts()[0]!;
  });

  after(async () => {
    if (chromiumProcess !== undefined) {
      await stopChromium(chromiumProcess);
    }
    await cli?.close();
    await assertNoStrayProcesses(baseline);
  });

  it('after being frozen for several ping intervals', async () => {
    const page = await openShell(context, pageUrl(cli!, { renderer: 'dom' }));
    const pid = await shellPid(page);
    await runCommand(page, 'echo "before-freeze-$((6*7))"');
    await recordLifecycle(page);

    const cdp = await context.newCDPSession(page);
    await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
    await delay(FROZEN_MS); // the scenario: a background tab frozen for a while
    const back = Date.now();
    await cdp.send('Page.setWebLifecycleState', { state: 'active' });
    // The user is back on the tab: shown and focused again (as Playwright's pages always are).
    await cdp.send('Emulation.setFocusEmulationEnabled', { enabled: true });
    await typeCommand(page, 'echo "back-$$"');
    const took = await waitForLine(page, `back-${pid}`, back);

    const seen = (await lifecycle(page)) ?? [];
    assert.ok(seen.includes('freeze hidden'), `the page was frozen: ${seen.join(', ')}`);
    assert.ok(
      took <= BACK_WITHIN_MS,
      `the command ran ${took} ms after the tab came back (at most ${BACK_WITHIN_MS}); page: ${seen.join(', ')}`,
    );
    assert.match(await bufferText(page), /^before-freeze-42$/m, 'the screen is kept');
    console.log(`frozen ${FROZEN_MS} ms; typed and answered ${took} ms after; ${seen.join(', ')}`);
    await page.close();
  });

  it('after going back to it from another page (the back-forward cache)', async () => {
    const page = await openShell(context, pageUrl(cli!, { renderer: 'dom' }));
    const pid = await shellPid(page);
    await runCommand(page, 'echo "before-away-$((6*7))"');
    await recordLifecycle(page);

    const away = await page.goto(new URL('/healthz', cli!.base).href);
    assert.equal(away?.status(), 200);
    const back = Date.now();
    // A page restored from the cache fires no load event: committed is as far as it goes.
    await page.goBack({ waitUntil: 'commit' });
    await typeCommand(page, 'echo "again-$$"');
    const took = await waitForLine(page, `again-${pid}`, back);

    // The same document, not a reload: its listeners saw it leave and come back.
    const seen = await lifecycle(page);
    const reasons = await page.evaluate(() =>
      JSON.stringify(
        (performance.getEntriesByType('navigation')[0] as { notRestoredReasons?: unknown })
          ?.notRestoredReasons ?? null,
      ),
    );
    assert.ok(
      seen?.includes('pageshow persisted=true') === true,
      `restored from the back-forward cache (not restored because: ${reasons}): ${seen?.join(', ')}`,
    );
    assert.ok(
      took <= BACK_WITHIN_MS,
      `the command ran ${took} ms after going back (at most ${BACK_WITHIN_MS}); page: ${seen?.join(', ')}`,
    );
    assert.match(await bufferText(page), /^before-away-42$/m, 'the screen is kept');
    console.log(`back from the cache; typed and answered ${took} ms after; ${seen?.join(', ')}`);
    await page.close();
  });
});
