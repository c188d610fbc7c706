// Case 4: time from Ctrl+C during `yes` to the next prompt, at Node clients and in Chromium.
// Node clients: raw node-pty in this process (the baseline), legacy, v1. In Chromium the time
// runs from the keydown to the prompt being in xterm's buffer (window.term).
import { performance } from 'node:perf_hooks';
import {
  roundsFor,
  sleep,
  subjectName,
  type BenchCase,
  type BenchContext,
} from '../lib/context.js';
import { launchChromium, waitForPromptLine } from '../lib/browser.js';
import { RawLink, WsLink, type Link } from '../lib/links.js';
import type { Row } from '../lib/report.js';
import { ServerProcess, type Build } from '../lib/server-process.js';
import { fixed, interleave, kib, median, millis, range } from '../lib/stats.js';

const PROMPT = 'xjs-cc$ ';
/** Output `yes` must have produced at the client before Ctrl+C. */
const FLOWING_BYTES = 2 * 1024 * 1024;

interface Sample {
  readonly ms: number;
  /** Output bytes that arrived between Ctrl+C and the prompt. */
  readonly after: number;
}

async function interruptYes(link: Link): Promise<Sample> {
  const start = link.bytes;
  link.send('yes\r');
  const flowStart = performance.now();
  while (link.bytes - start < FLOWING_BYTES || performance.now() - flowStart < 300) {
    await sleep(5);
  }
  const prompt = link.expect(PROMPT, 30_000);
  const before = link.bytes;
  const sent = performance.now();
  link.send('\x03');
  const at = await prompt;
  const sample = { ms: at - sent, after: link.bytes - before };
  await sleep(50);
  return sample;
}

type Kind = 'raw' | 'legacy' | 'v1' | 'chromium';
const CHROMIUM: Kind = 'chromium';
interface Subject {
  readonly name: string;
  readonly kind: Kind;
  readonly build?: Build;
}

interface PageProbe {
  keyAt: number;
  promptAt: number;
  lineFeeds: number;
  renderer: string;
}

/** Chromium: `yes`, Ctrl+C, prompt, `rounds` times on one page of each build. */
async function inChromium(
  context: BenchContext,
  servers: Map<Build, ServerProcess>,
  rounds: number,
): Promise<Map<string, { samples: Sample[]; renderer: string }>> {
  const results = new Map<string, { samples: Sample[]; renderer: string }>();
  const browser = await launchChromium();
  try {
    const pages = [];
    for (const [build, server] of servers) {
      const page = await browser.context.newPage();
      await page.goto(`${server.httpUrl}#token=${server.token}`);
      await waitForPromptLine(page, PROMPT);
      await page.evaluate((prompt) => {
        const probe: PageProbe = { keyAt: 0, promptAt: 0, lineFeeds: 0, renderer: '' };
        (window as unknown as { probe: PageProbe }).probe = probe;
        document.addEventListener(
          'keydown',
          (event) => {
            if (event.ctrlKey && event.key.toLowerCase() === 'c') probe.keyAt = performance.now();
          },
          true,
        );
        window.term.onLineFeed(() => (probe.lineFeeds += 1));
        window.term.onWriteParsed(() => {
          if (probe.keyAt === 0 || probe.promptAt !== 0) return;
          const buffer = window.term.buffer.active;
          const line = buffer.getLine(buffer.baseY + buffer.cursorY)?.translateToString(true);
          if (line?.startsWith(prompt)) probe.promptAt = performance.now();
        });
      }, PROMPT);
      pages.push({ name: subjectName('v1 (Chromium page)', build), page });
      results.set(subjectName('v1 (Chromium page)', build), { samples: [], renderer: '' });
    }
    await interleave(rounds, pages, async ({ name, page }) => {
      await page.evaluate(() => {
        const probe = (window as unknown as { probe: PageProbe }).probe;
        probe.keyAt = 0;
        probe.promptAt = 0;
        probe.lineFeeds = 0;
      });
      await page.keyboard.type('yes');
      await page.keyboard.press('Enter');
      // Flowing: 20,000 lines parsed, and for at least half a second.
      const flowing = page.waitForFunction(
        () => (window as unknown as { probe: PageProbe }).probe.lineFeeds > 20_000,
        undefined,
        { polling: 20, timeout: 30_000 },
      );
      await Promise.all([flowing, sleep(500)]);
      const linesBefore = await page.evaluate(
        () => (window as unknown as { probe: PageProbe }).probe.lineFeeds,
      );
      await page.keyboard.press('Control+c');
      await page.waitForFunction(
        () => (window as unknown as { probe: PageProbe }).probe.promptAt > 0,
        undefined,
        { polling: 20, timeout: 60_000 },
      );
      const probe = await page.evaluate(() => {
        const found = (window as unknown as { probe: PageProbe }).probe;
        return { ...found, renderer: document.body.dataset.renderer ?? 'unknown' };
      });
      const result = results.get(name);
      // 'y\r\n' is 3 bytes a line: what the page still parsed after the key, roughly.
      result?.samples.push({
        ms: probe.promptAt - probe.keyAt,
        after: (probe.lineFeeds - linesBefore) * 3,
      });
      if (result !== undefined) {
        results.set(name, { ...result, renderer: probe.renderer });
      }
      context.log(`  ${name}: ${millis(probe.promptAt - probe.keyAt)}`);
      await sleep(100);
    });
  } finally {
    await browser.close();
  }
  return results;
}

export const ctrlC: BenchCase = {
  name: 'ctrlc',
  title: '4. Ctrl+C during `yes` at a reading client',
  async run(context) {
    const rounds = roundsFor(context, 7);
    const browserRounds = roundsFor(context, 5);
    const command = ['/bin/bash', '--norc', '--noprofile'];
    const env = { HOME: context.emptyHome, PS1: PROMPT };
    const servers = new Map<Build, ServerProcess>();
    const subjects: Subject[] = [{ name: 'raw node-pty', kind: 'raw' }];
    const links = new Map<string, Link>();
    const samples = new Map<string, Sample[]>();
    let chromium = new Map<string, { samples: Sample[]; renderer: string }>();
    try {
      for (const build of context.builds) {
        const server = await ServerProcess.start({
          build,
          options: { userShellCommand: command, env },
        });
        servers.set(build, server);
        for (const kind of ['legacy', 'v1'] as const) {
          const name = subjectName(kind, build);
          subjects.push({ name, kind, build });
          links.set(name, new WsLink({ url: server.url, kind, credential: server.token }));
        }
      }
      links.set('raw node-pty', new RawLink({ command, env }));
      for (const [name, link] of links) {
        await link.expect(PROMPT, 10_000, true);
        samples.set(name, []);
      }
      context.log(`ctrl-c: ${rounds} rounds of yes + Ctrl+C per Node client`);
      await interleave(rounds, subjects, async (subject) => {
        const sample = await interruptYes(links.get(subject.name) as Link);
        samples.get(subject.name)?.push(sample);
        context.log(`  ${subject.name}: ${millis(sample.ms)}, ${kib(sample.after)} after ^C`);
      });
      for (const link of links.values()) {
        await link.close();
      }
      links.clear();
      context.log(`ctrl-c: ${browserRounds} rounds in Chromium`);
      chromium = await inChromium(context, servers, browserRounds);
    } finally {
      for (const link of links.values()) {
        await link.close();
      }
      for (const server of servers.values()) {
        await server.close();
      }
    }
    const rawMedian = median((samples.get('raw node-pty') ?? []).map((s) => s.ms));
    const rows: Row[] = [];
    const all: Array<{ name: string; kind: Kind; samples: Sample[]; renderer: string }> = [
      ...subjects.map((s) => ({
        name: s.name,
        kind: s.kind,
        samples: samples.get(s.name) ?? [],
        renderer: '',
      })),
      ...[...chromium].map(([name, r]) => ({ name, kind: CHROMIUM, ...r })),
    ];
    for (const subject of all) {
      const values = subject.samples.map((s) => s.ms);
      const isRaw = subject.kind === 'raw';
      rows.push({
        case: '4 ctrl-c',
        metric: 'Ctrl+C during yes → prompt',
        subject: subject.name,
        value: millis(median(values)),
        ...(isRaw
          ? {}
          : {
              baseline: `raw ${millis(rawMedian)}`,
              ratio: fixed(median(values) / rawMedian, 1),
              target: '< 200 ms',
              pass: median(values) < 200,
            }),
        spread: `${range(values)} ms`,
        note:
          `${kib(median(subject.samples.map((s) => s.after)), 0)} output after ^C; ${values.length} runs` +
          (subject.kind === 'chromium'
            ? `; ${subject.renderer} renderer; keydown → prompt in buffer`
            : ''),
      });
    }
    return rows;
  },
};
