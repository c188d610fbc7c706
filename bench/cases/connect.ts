// Case 3: time from connecting to the first output byte of `bash -l`, clean and real HOME.
// Timed from the TCP connect (and from the WebSocket open), with an empty HOME (a clean profile)
// and the real HOME (this machine's ~/.bashrc runs pyenv). Baseline: node-pty spawn to first
// output of the same command in this process.
import { homedir } from 'node:os';
import { roundsFor, subjectName, type BenchCase } from '../lib/context.js';
import { RawLink, WsLink } from '../lib/links.js';
import type { Row } from '../lib/report.js';
import { ServerProcess, type Build } from '../lib/server-process.js';
import { fixed, interleave, median, millis, range } from '../lib/stats.js';

type Kind = 'raw' | 'legacy' | 'v1';

interface Sample {
  /** From TCP connect (raw: from spawn) to the first output byte. */
  readonly total: number;
  /** From the WebSocket open to the first output byte. */
  readonly fromOpen: number;
}

export const connect: BenchCase = {
  name: 'connect',
  title: '3. Connect to first output (bash -l)',
  async run(context) {
    const rows: Row[] = [];
    const profiles = [
      { label: 'empty HOME', home: context.emptyHome, rounds: roundsFor(context, 9) },
      { label: 'real HOME', home: homedir(), rounds: roundsFor(context, 5) },
    ];
    for (const profile of profiles) {
      const command = ['/bin/bash', '-l'];
      const env = { HOME: profile.home };
      const servers = new Map<Build, ServerProcess>();
      const subjects: Array<{ name: string; kind: Kind; build?: Build }> = [
        { name: 'raw node-pty', kind: 'raw' },
      ];
      for (const build of context.builds) {
        servers.set(
          build,
          await ServerProcess.start({ build, options: { userShellCommand: command, env } }),
        );
        subjects.push({ name: subjectName('legacy', build), kind: 'legacy', build });
        subjects.push({ name: subjectName('v1', build), kind: 'v1', build });
      }
      const samples = new Map<string, Sample[]>(subjects.map((s) => [s.name, []]));
      context.log(`connect (${profile.label}): ${profile.rounds} rounds`);
      try {
        // One unmeasured round first: the server's first connection loads code lazily.
        await interleave(profile.rounds + 1, subjects, async (subject, round) => {
          let sample: Sample;
          if (subject.kind === 'raw') {
            const link = new RawLink({ command, env });
            const first = await link.nextOutput(30_000);
            sample = { total: first - link.spawnedAt, fromOpen: Number.NaN };
            await link.close();
          } else {
            const server = servers.get(subject.build as Build) as ServerProcess;
            const link = new WsLink({
              url: server.url,
              kind: subject.kind,
              credential: server.token,
            });
            const first = await link.nextOutput(30_000);
            sample = { total: first - link.startedAt, fromOpen: first - (link.openedAt ?? first) };
            await link.close();
            await server.waitIdle();
          }
          if (round > 0) {
            samples.get(subject.name)?.push(sample);
          }
        });
      } finally {
        for (const server of servers.values()) {
          await server.close();
        }
      }
      const rawMedian = median((samples.get('raw node-pty') ?? []).map((s) => s.total));
      for (const subject of subjects) {
        const mine = samples.get(subject.name) ?? [];
        const totals = mine.map((s) => s.total);
        const isRaw = subject.kind === 'raw';
        const clean = profile.label === 'empty HOME';
        rows.push({
          case: '3 connect',
          metric: `${isRaw ? 'spawn' : 'TCP connect'} → first output, bash -l, ${profile.label}`,
          subject: subject.name,
          value: millis(median(totals)),
          ...(isRaw
            ? {}
            : {
                baseline: `raw spawn ${millis(rawMedian)}`,
                ratio: fixed(median(totals) / rawMedian, 2),
                ...(clean ? { target: '≤ 10 ms', pass: median(totals) <= 10 } : {}),
              }),
          spread: `${range(totals)} ms`,
          note: isRaw
            ? `${mine.length} runs`
            : `from WebSocket open: ${millis(median(mine.map((s) => s.fromOpen)))}; ${mine.length} runs`,
        });
      }
    }
    return rows;
  },
};
