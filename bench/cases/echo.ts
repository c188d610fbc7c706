// Case 2: keystroke echo latency (p50/p90/p99) in bash readline, raw node-pty vs legacy and v1.
// One character is sent and the time until its echo arrives is taken; keystrokes are spaced a
// little, as typing is, and the line is cleared (untimed) every 60 characters.
import { performance } from 'node:perf_hooks';
import { roundsFor, sleep, subjectName, type BenchCase } from '../lib/context.js';
import { RawLink, WsLink, type Link } from '../lib/links.js';
import type { Row } from '../lib/report.js';
import { ServerProcess, type Build } from '../lib/server-process.js';
import { fixed, interleave, micros, summarize } from '../lib/stats.js';

const PROMPT = 'xjs-echo$ ';
const KEYS_PER_LINE = 60;
/** Pause between keystrokes: a fast typist, and time for the previous echo's tail to settle. */
const GAP_MS = 2;

/** Sends one character and resolves with the milliseconds until output next arrives. */
async function keystroke(link: Link, key: string): Promise<number> {
  const echoed = link.nextOutput(5000);
  const sent = performance.now();
  link.send(key);
  return (await echoed) - sent;
}

/** Types a comment line of KEYS_PER_LINE timed characters, then Enter (untimed). */
async function typeLine(link: Link, samples: number[] | undefined): Promise<void> {
  await keystroke(link, '#');
  for (let i = 0; i < KEYS_PER_LINE; i += 1) {
    await sleep(GAP_MS);
    const ms = await keystroke(link, String.fromCharCode(97 + (i % 26)));
    samples?.push(ms);
  }
  const prompt = link.expect(PROMPT, 5000);
  link.send('\r');
  await prompt;
  await sleep(GAP_MS);
}

type Kind = 'raw' | 'legacy' | 'v1';

export const echo: BenchCase = {
  name: 'echo',
  title: '2. Keystroke echo latency (bash readline)',
  async run(context) {
    const lines = roundsFor(context, 20, 3);
    const command = ['/bin/bash', '--norc', '--noprofile'];
    const env = { HOME: context.emptyHome, PS1: PROMPT };
    const servers = new Map<Build, ServerProcess>();
    const subjects: Array<{ name: string; kind: Kind; link?: Link }> = [
      { name: 'raw node-pty', kind: 'raw' },
    ];
    const samples = new Map<string, number[]>();
    try {
      for (const build of context.builds) {
        const server = await ServerProcess.start({
          build,
          options: { userShellCommand: command, env },
        });
        servers.set(build, server);
        for (const kind of ['legacy', 'v1'] as const) {
          subjects.push({
            name: subjectName(kind, build),
            kind,
            link: new WsLink({ url: server.url, kind, credential: server.token }),
          });
        }
      }
      subjects[0] = {
        ...subjects[0],
        name: 'raw node-pty',
        kind: 'raw',
        link: new RawLink({ command, env }),
      };
      for (const subject of subjects) {
        const link = subject.link as Link;
        await link.expect(PROMPT, 10_000, true);
        await typeLine(link, undefined); // warm-up, discarded
        samples.set(subject.name, []);
      }
      context.log(`echo: ${lines} lines of ${KEYS_PER_LINE} keystrokes per subject, interleaved`);
      await interleave(lines, subjects, async (subject) => {
        await typeLine(subject.link as Link, samples.get(subject.name));
      });
    } finally {
      for (const subject of subjects) {
        await subject.link?.close();
      }
      for (const server of servers.values()) {
        await server.close();
      }
    }
    const raw = summarize(samples.get('raw node-pty') ?? []);
    return subjects.map((subject): Row => {
      const mine = summarize(samples.get(subject.name) ?? []);
      const isRaw = subject.kind === 'raw';
      return {
        case: '2 echo',
        metric: 'keystroke → echo, p50',
        subject: subject.name,
        value: micros(mine.median),
        ...(isRaw
          ? {}
          : {
              baseline: `raw ${micros(raw.median)}`,
              ratio: fixed(mine.median / raw.median, 2),
              target: 'p50 ≤ 150 µs, p99 ≤ 1 ms',
              pass: mine.median <= 0.15 && mine.p99 <= 1,
            }),
        spread: `p90 ${micros(mine.p90)}, p99 ${micros(mine.p99)}, max ${micros(mine.max)}`,
        note: `${mine.n} keystrokes${isRaw ? '' : `; raw p90 ${micros(raw.p90)}, p99 ${micros(raw.p99)}`}`,
      };
    });
  },
};
