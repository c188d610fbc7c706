// Chromium through a TCP proxy that the test cuts: the page says it is reconnecting, comes back
// to the same shell by itself, and keeps its screen and scrollback; a reload resumes too.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  assertNoStrayProcesses,
  bufferText,
  DESKTOP,
  launchBrowser,
  openShell,
  PROMPT,
  processBaseline,
  runCommand,
  startCli,
  statusText,
  typeCommand,
  waitForBuffer,
  waitForState,
  type CliServer,
} from '../helpers/browser.js';
import { isRunning } from '../helpers/processes.js';
import { FreezableProxy } from '../helpers/proxy.js';
import { waitFor } from '../helpers/wait-for.js';

/** The shell's pid, as the shell itself says it. */
async function shellPid(page: Page): Promise<number> {
  const text = await runCommand(page, 'echo "pid=$$."');
  const pid = /^pid=(\d+)\.$/m.exec(text)?.[1];
  assert.ok(pid !== undefined, `no pid in:\n${text}`);
  return Number(pid);
}

/** Lines of the buffer that are exactly `line`. */
async function count(page: Page, line: string): Promise<number> {
  return (await bufferText(page)).split('\n').filter((row) => row.trimEnd() === line).length;
}

describe('the page across a dropped connection', () => {
  let browser: Browser;
  let cli: CliServer;
  let proxy: FreezableProxy;
  let context: BrowserContext;
  const baseline = processBaseline();

  before(async () => {
    [browser, cli] = await Promise.all([launchBrowser(), startCli()]);
    proxy = await FreezableProxy.start(Number(new URL(cli.base).port));
    context = await browser.newContext(DESKTOP);
  });

  after(async () => {
    await context?.close();
    await browser?.close();
    await proxy?.close();
    await cli?.close();
    await assertNoStrayProcesses(baseline);
  });

  function proxiedUrl(): string {
    const url = new URL(cli.url);
    url.port = String(proxy.port);
    url.searchParams.set('renderer', 'dom');
    return url.href;
  }

  it('reconnects by itself after a cut, resumes the same shell and keeps the scrollback', async () => {
    const page = await openShell(context, proxiedUrl());
    // The token left the address bar as soon as the page read it.
    assert.equal(new URL(page.url()).hash, '');
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { states: string[] }).states = seen;
      const status = document.getElementById('status') as HTMLElement;
      new MutationObserver(() => seen.push(status.dataset.state ?? '')).observe(status, {
        attributes: true,
        attributeFilter: ['data-state'],
      });
    });
    const pid = await shellPid(page);
    await runCommand(page, 'seq 1 2000 | sed "s/^/line-/"');
    assert.equal(await count(page, 'line-1'), 1);

    for (const connection of proxy.connections) {
      connection.cut('reset');
    }
    await page.waitForFunction(
      () => (window as unknown as { states: string[] }).states.includes('connected'),
      undefined,
      { timeout: 30_000, polling: 50 },
    );
    const states = await page.evaluate(() => (window as unknown as { states: string[] }).states);
    assert.deepEqual(states, ['reconnecting', 'connected'], `states: ${states.join(', ')}`);

    assert.equal(await shellPid(page), pid, 'the same shell after the cut');
    assert.equal(await count(page, 'line-1'), 1, 'scrollback kept, nothing replayed twice');
    assert.equal(await count(page, 'line-2000'), 1);
    await page.close();
  });

  it('resumes output that was printed while the connection was down', async () => {
    const page = await openShell(context, proxiedUrl());
    const pid = await shellPid(page);
    // Output keeps coming after the cut; the shell is paused while detached, and every line
    // arrives once the page is back.
    await page.keyboard.type('for i in $(seq 1 50); do echo "tick-$i"; sleep 0.02; done');
    await page.keyboard.press('Enter');
    await waitForBuffer(page, 'tick-3');
    for (const connection of proxy.connections) {
      connection.cut('reset');
    }
    await waitForBuffer(page, 'tick-50');
    for (let i = 1; i <= 50; i++) {
      assert.equal(await count(page, `tick-${i}`), 1, `tick-${i} exactly once`);
    }
    assert.equal(await shellPid(page), pid);
    await page.close();
  });

  it('resumes the same shell after a reload, with its recent output on screen', async () => {
    const page = await openShell(context, proxiedUrl());
    const pid = await shellPid(page);
    await runCommand(page, 'echo before-reload-$((40+2))');
    await page.reload();
    await waitForState(page, 'connected');
    await waitForBuffer(page, 'before-reload-42');
    assert.equal(await shellPid(page), pid, 'a reload keeps the shell');
    await page.close();
  });

  it('runs what is typed while a reload is still drawing the replayed output', async () => {
    const page = await openShell(context, proxiedUrl());
    // Half a megabyte of output for the reload to replay (more lines than the scrollback).
    await typeCommand(page, 'seq 1 80000; echo "seq-$((40+2))"');
    await waitForBuffer(page, /^seq-42$/m);
    // Typed the moment the page says connected, before the replay is drawn.
    await page.addInitScript(() => {
      new MutationObserver((_changes, observer) => {
        if (document.getElementById('status')?.dataset.state === 'connected') {
          observer.disconnect();
          (window as unknown as { typedAt: number }).typedAt = window.xtermJsShell.processed;
          window.term.input('echo typed-during-replay-$((6*7))\r');
        }
      }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-state'] });
    });
    await page.reload();
    await waitForBuffer(page, /^typed-during-replay-42$/m);
    const { typedAt, drawn } = await page.evaluate(() => ({
      typedAt: (window as unknown as { typedAt: number }).typedAt,
      drawn: window.xtermJsShell.processed,
    }));
    assert.ok(drawn - typedAt > 400_000, `typed at ${typedAt}, ${drawn} bytes drawn by now`);
    await page.close();
  });

  it('does not answer again the queries that a reload replays', async () => {
    const page = await openShell(context, proxiedUrl());
    // Every query xterm.js answers, answered once now and read. The two cursor position
    // reports come last: reading stops at their final `R`, which no other reply holds.
    const queries = [
      '\\e[5n', // device status
      '\\e[?1$p\\e[4$p', // modes
      '\\eP$qm\\e\\\\', // a setting (DECRQSS)
      '\\e]10;?\\e\\\\\\e]11;?\\e\\\\\\e]12;?\\e\\\\\\e]4;1;?\\e\\\\', // colours
      '\\e[18t', // size in characters
      '\\e[>c\\e[c', // device attributes, secondary and primary
      '\\e[?6n\\e[6n', // cursor position
    ].join('');
    const answered = await runCommand(
      page,
      `printf '${queries}'; read -rs -d R -t 5 a; read -rs -d R -t 5 b; echo "answered-$?"`,
    );
    assert.match(answered, /^answered-0$/m, 'both cursor position reports arrived');
    await page.reload();
    await waitForState(page, 'connected');
    await waitFor(
      () =>
        page.evaluate(
          () =>
            window.xtermJsShell.received > 0 &&
            window.xtermJsShell.processed === window.xtermJsShell.received,
        ),
      { message: 'the replay to be drawn' },
    );
    // An answer sent again would sit in the shell's input and spoil the next command line.
    const text = await runCommand(page, 'echo clean-$((2+3))');
    assert.match(text, /^clean-5$/m, text);
    await page.close();
  });

  it('shows the exit status of a shell that ended while the page was away', async () => {
    const page = await openShell(context, proxiedUrl());
    const pid = await shellPid(page);
    proxy.refusing = true;
    for (const connection of proxy.connections) {
      connection.cut('reset');
    }
    await waitForState(page, 'reconnecting');
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !isRunning(pid), { message: 'the shell to die' });
    proxy.refusing = false;
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await waitForState(page, 'exited');
    assert.match(await statusText(page), /killed by signal SIGKILL/);
    await page.close();
  });

  it('starts a new shell, and says so, when the server was restarted meanwhile', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xjs-restart-'));
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'restart-token-0123456789abcdef\n', { mode: 0o600 });
    let first: CliServer | undefined = await startCli(['--token-file', tokenFile]);
    const restartProxy = await FreezableProxy.start(Number(new URL(first.base).port));
    let second: CliServer | undefined;
    try {
      const url = new URL(first.base);
      url.port = String(restartProxy.port);
      url.search = '?renderer=dom';
      url.hash = '#token=restart-token-0123456789abcdef';
      const page = await openShell(context, url.href);
      const pid = await shellPid(page);
      restartProxy.refusing = true;
      for (const connection of restartProxy.connections) {
        connection.cut('reset');
      }
      await waitForState(page, 'reconnecting');
      assert.equal(await first.close(), 0);
      first = undefined;
      second = await startCli(['--token-file', tokenFile]);
      restartProxy.targetPort = Number(new URL(second.base).port);
      restartProxy.refusing = false;
      await page.evaluate(() => window.dispatchEvent(new Event('online')));
      await waitForBuffer(page, '[the previous shell has ended]');
      await waitForState(page, 'connected');
      const newPid = await shellPid(page);
      assert.notEqual(newPid, pid, 'a new shell');
      assert.ok(second.stderr().includes(`"shellPid":${newPid}`), 'on the restarted server');
      await page.close();
    } finally {
      await restartProxy.close();
      await first?.close();
      await second?.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('quietly starts a new shell when a reloaded tab remembers a session that is gone', async () => {
    const page = await openShell(context, proxiedUrl());
    const pid = await shellPid(page);
    await page.evaluate(() => {
      for (let i = 0; i < sessionStorage.length; i++) {
        const key = sessionStorage.key(i) ?? '';
        if (key.endsWith(':session')) sessionStorage.setItem(key, 'f'.repeat(32));
      }
    });
    await page.reload();
    await waitForState(page, 'connected');
    // The new shell's first prompt, before typing: runCommand counts prompts.
    await waitForBuffer(page, PROMPT);
    assert.notEqual(await shellPid(page), pid);
    assert.ok(!(await bufferText(page)).includes('[the previous shell has ended]'));
    await page.close();
  });
});

describe('the page on a link that goes silent', () => {
  let browser: Browser;
  let cli: CliServer;
  let proxy: FreezableProxy;
  const baseline = processBaseline();

  before(async () => {
    // Pings (and the v1 heartbeats the page hears) every second.
    [browser, cli] = await Promise.all([launchBrowser(), startCli(['--ping-interval', '1'])]);
    proxy = await FreezableProxy.start(Number(new URL(cli.base).port));
  });

  after(async () => {
    await browser?.close();
    await proxy?.close();
    await cli?.close();
    await assertNoStrayProcesses(baseline);
  });

  it('notices a frozen connection without a close, reconnects and resumes the shell', async () => {
    const context = await browser.newContext(DESKTOP);
    const url = new URL(cli.url);
    url.port = String(proxy.port);
    url.searchParams.set('renderer', 'dom');
    const page = await openShell(context, url.href);
    const pid = await shellPid(page);
    await runCommand(page, 'echo before-freeze-$((1+1))');
    // Nothing arrives any more and nothing is closed: a dead Wi-Fi link.
    for (const connection of proxy.connections) {
      connection.freeze();
    }
    await waitForState(page, 'reconnecting');
    await waitForState(page, 'connected');
    assert.equal(await shellPid(page), pid, 'the same shell');
    assert.equal(await count(page, 'before-freeze-2'), 1);
    await context.close();
  });
});
