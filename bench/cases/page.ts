// Case 8: the page's bundle sizes, and the time from navigation to a prompt in Chromium.
// Sizes from dist/client (first load: index.html and what it names; lazy chunks). Navigation
// with an empty cache each time, bash --norc --noprofile; baseline: a navigation to the same
// server's /healthz in the same browser, interleaved.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { roundsFor, sleep, subjectName, type BenchCase } from '../lib/context.js';
import { launchChromium } from '../lib/browser.js';
import type { Row } from '../lib/report.js';
import { ServerProcess, type Build } from '../lib/server-process.js';
import { fixed, interleave, kib, median, millis, range } from '../lib/stats.js';

const PROMPT = 'xjs-page$ ';

interface Sizes {
  readonly firstRaw: number;
  readonly firstGzip: number;
  readonly firstFiles: readonly string[];
  readonly lazy: ReadonlyArray<{ file: string; raw: number; gzip: number }>;
}

function bundleSizes(build: Build): Sizes {
  const dir = join(build.root, 'dist/client');
  const html = readFileSync(join(dir, 'index.html'));
  const named = [...html.toString('utf8').matchAll(/(?:href|src)="(assets\/[^"]+)"/g)].map(
    (match) => match[1] as string,
  );
  const first = [html, ...named.map((file) => readFileSync(join(dir, file)))];
  const chunksDir = join(dir, 'assets/chunks');
  let chunkFiles: string[] = [];
  try {
    chunkFiles = readdirSync(chunksDir).filter((file) => /\.(js|css)$/.test(file));
  } catch {
    // no split chunks
  }
  return {
    firstRaw: first.reduce((sum, body) => sum + body.length, 0),
    firstGzip: first.reduce((sum, body) => sum + gzipSync(body).length, 0),
    firstFiles: ['index.html', ...named],
    lazy: chunkFiles.map((file) => {
      const body = readFileSync(join(chunksDir, file));
      return { file, raw: body.length, gzip: gzipSync(body).length };
    }),
  };
}

interface Load {
  readonly promptMs: number;
  readonly connectedMs: number;
  /** When the page created its WebSocket, and when it opened. */
  readonly socketMs: number;
  readonly openMs: number;
  readonly domContentLoadedMs: number;
  readonly chunksFetched: readonly string[];
  readonly renderer: string;
}

/**
 * Installed before the page's own scripts: notes when the page shows "connected" and when the
 * prompt is on the cursor line of xterm's buffer. A string, not a function: tsx would wrap
 * named functions in a helper that does not exist in the page.
 */
function probeScript(prompt: string): string {
  return `(() => {
    const probe = { promptAt: 0, connectedAt: 0, socketAt: 0, openAt: 0 };
    window.probe = probe;
    const NativeSocket = window.WebSocket;
    window.WebSocket = class extends NativeSocket {
      constructor(...args) {
        super(...args);
        if (probe.socketAt === 0) probe.socketAt = performance.now();
        this.addEventListener('open', () => { if (probe.openAt === 0) probe.openAt = performance.now(); });
      }
    };
    const timer = setInterval(() => {
      const term = window.term;
      if (term === undefined) return;
      clearInterval(timer);
      const status = document.getElementById('status');
      if (status !== null) {
        new MutationObserver(() => {
          if (probe.connectedAt === 0 && status.dataset.state === 'connected') {
            probe.connectedAt = performance.now();
          }
        }).observe(status, { attributes: true, attributeFilter: ['data-state'] });
      }
      const check = () => {
        const buffer = term.buffer.active;
        const line = buffer.getLine(buffer.baseY + buffer.cursorY)?.translateToString(true) ?? '';
        if (probe.promptAt === 0 && line.startsWith(${JSON.stringify(prompt)})) probe.promptAt = performance.now();
      };
      term.onWriteParsed(check);
      check();
    }, 1);
  })();`;
}

export const page: BenchCase = {
  name: 'page',
  title: '8. The page: bundle size and time to a prompt in Chromium',
  async run(context) {
    const rounds = roundsFor(context, 5);
    const rows: Row[] = [];
    for (const build of context.builds) {
      const sizes = bundleSizes(build);
      const lazyRaw = sizes.lazy.reduce((sum, chunk) => sum + chunk.raw, 0);
      const lazyGzip = sizes.lazy.reduce((sum, chunk) => sum + chunk.gzip, 0);
      rows.push({
        case: '8 page',
        metric: 'first load: raw / gzip',
        subject: subjectName('bundle', build),
        value: `${kib(sizes.firstRaw)} / ${kib(sizes.firstGzip)}`,
        note: sizes.firstFiles.join(', '),
      });
      rows.push({
        case: '8 page',
        metric: 'lazy chunks: raw / gzip',
        subject: subjectName('bundle', build),
        value: `${kib(lazyRaw)} / ${kib(lazyGzip)}`,
        note: sizes.lazy
          .map((c) => `${c.file.replace(/-\w{8}\./, '.')} ${kib(c.gzip)} gz`)
          .join(', '),
      });
    }
    const servers = new Map<Build, ServerProcess>();
    const browser = await launchChromium();
    const loads = new Map<string, Load[]>();
    const floors = new Map<string, number[]>();
    try {
      for (const build of context.builds) {
        servers.set(
          build,
          await ServerProcess.start({
            build,
            options: {
              userShellCommand: ['/bin/bash', '--norc', '--noprofile'],
              env: { HOME: context.emptyHome, PS1: PROMPT },
            },
          }),
        );
      }
      const subjects = context.builds.flatMap((build) => [
        { build, what: 'page' as const },
        { build, what: 'healthz' as const },
      ]);
      context.log(`page: ${rounds} navigations each, empty cache`);
      await interleave(rounds + 1, subjects, async ({ build, what }, round) => {
        const server = servers.get(build) as ServerProcess;
        const tab = await browser.context.newPage();
        const cdp = await browser.context.newCDPSession(tab);
        await cdp.send('Network.clearBrowserCache');
        const fetched: string[] = [];
        tab.on('request', (request) => {
          const match = /assets\/chunks\/([\w-]+)\.js$/.exec(request.url());
          if (match?.[1] !== undefined) fetched.push(match[1].replace(/-\w{8}$/, ''));
        });
        try {
          if (what === 'healthz') {
            await tab.goto(`${server.httpUrl}healthz`, { waitUntil: 'load' });
            const loaded = await tab.evaluate(
              () =>
                (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming)
                  .loadEventEnd,
            );
            if (round > 0) floors.set(build.label, [...(floors.get(build.label) ?? []), loaded]);
            return;
          }
          await tab.addInitScript({ content: probeScript(PROMPT) });
          await tab.goto(`${server.httpUrl}#token=${server.token}`);
          await tab.waitForFunction(
            () => (window as unknown as { probe: { promptAt: number } }).probe.promptAt > 0,
            undefined,
            { polling: 20, timeout: 30_000 },
          );
          const load = await tab.evaluate(() => {
            const probe = (
              window as unknown as {
                probe: { promptAt: number; connectedAt: number; socketAt: number; openAt: number };
              }
            ).probe;
            const navigation = performance.getEntriesByType(
              'navigation',
            )[0] as PerformanceNavigationTiming;
            return {
              promptMs: probe.promptAt,
              connectedMs: probe.connectedAt,
              socketMs: probe.socketAt,
              openMs: probe.openAt,
              domContentLoadedMs: navigation.domContentLoadedEventEnd,
              renderer: document.body.dataset.renderer ?? 'unknown',
            };
          });
          if (round > 0) {
            loads.set(build.label, [
              ...(loads.get(build.label) ?? []),
              { ...load, chunksFetched: [...fetched] },
            ]);
          }
          context.log(`  page${build.label}: prompt after ${millis(load.promptMs)}`);
        } finally {
          await cdp.detach().catch(() => undefined);
          await tab.close();
          await sleep(50);
        }
      });
    } finally {
      await browser.close();
      for (const server of servers.values()) {
        await server.close();
      }
    }
    for (const build of context.builds) {
      const mine = loads.get(build.label) ?? [];
      const floor = median(floors.get(build.label) ?? []);
      const prompt = mine.map((l) => l.promptMs);
      rows.push({
        case: '8 page',
        metric: 'navigation → prompt in buffer (empty cache)',
        subject: subjectName('page in Chromium', build),
        value: millis(median(prompt)),
        baseline: `/healthz load ${millis(floor)}`,
        ratio: fixed(median(prompt) / floor, 1),
        spread: `${range(prompt)} ms`,
        note:
          `DOMContentLoaded ${millis(median(mine.map((l) => l.domContentLoadedMs)))}, ` +
          `WebSocket created ${millis(median(mine.map((l) => l.socketMs)))}, ` +
          `open ${millis(median(mine.map((l) => l.openMs)))}, ` +
          `connected ${millis(median(mine.map((l) => l.connectedMs)))}; ` +
          `chunks fetched: ${[...new Set(mine.flatMap((l) => l.chunksFetched))].join(', ') || 'none'}; ` +
          `${mine[0]?.renderer ?? '?'} renderer; ${mine.length} runs`,
      });
    }
    return rows;
  },
};
