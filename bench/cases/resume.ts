// Case 7: resume, from a cut connection to live output on a new socket (v1).
// A loopback proxy cuts the connection (TCP reset both ways); the client opens a new socket with
// its session id and offset and types one key at once; the time runs to that key's echo, after
// the replay of what it missed (nothing, or 256 KiB the proxy swallowed before the cut).
// Baseline: a fresh connection (new shell, no resume) through the same proxy to first output.
import { performance } from 'node:perf_hooks';
import { roundsFor, sleep, subjectName, type BenchCase } from '../lib/context.js';
import { CutProxy } from '../lib/cut-proxy.js';
import { WsLink } from '../lib/links.js';
import type { Row } from '../lib/report.js';
import { ServerProcess, type Build } from '../lib/server-process.js';
import { fixed, interleave, kib, median, millis, range } from '../lib/stats.js';

const PROMPT = 'xjs-rs$ ';
/**
 * Output lost in the cut. It must stay below the flow-control window (256 KiB by default): the
 * server pauses the shell once that much is unacknowledged, so more than that never flows.
 */
const MISSED_BYTES = 128 * 1024;

interface Sample {
  /** New socket start → the typed key's echo. */
  readonly liveMs: number;
  /** New socket start → the server's hello. */
  readonly helloMs: number;
  readonly replayed: number;
}

type Scenario = 'fresh' | 'resume' | 'resume-missed';

class ResumingClient {
  link: WsLink;
  constructor(
    private readonly _url: string,
    private readonly _token: string,
  ) {
    this.link = new WsLink({ url: _url, kind: 'v1', credential: _token });
  }

  async start(): Promise<void> {
    await this.link.expect(PROMPT, 10_000, true);
  }

  /** Cuts the connection (after letting the proxy swallow `missed` bytes), then resumes. */
  async cutAndResume(proxy: CutProxy, missed: number): Promise<Sample> {
    const old = this.link;
    if (old.closeCode !== undefined) {
      throw new Error(`the connection to resume is gone already (${old.closeCode})`);
    }
    if (missed > 0) {
      proxy.swallowing = true;
      proxy.swallowed = 0;
      old.send(`head -c ${(missed / 4) * 3} /dev/zero | base64 -w 0; echo\r`);
      let last = -1;
      const deadline = performance.now() + 30_000;
      while (proxy.swallowed < missed || proxy.swallowed !== last) {
        if (performance.now() > deadline) {
          throw new Error(`only ${proxy.swallowed} of ${missed} bytes flowed before the cut`);
        }
        last = proxy.swallowed;
        await sleep(100);
      }
    }
    proxy.cut(old.localPort);
    proxy.swallowing = false;
    await old.ended;
    const link = new WsLink({
      url: this._url,
      kind: 'v1',
      credential: this._token,
      resume: { sessionId: old.hello?.sessionId ?? '', offset: old.offset },
      earlyInput: 'Z',
    });
    const echoed = link.expect('Z', 30_000);
    const at = await Promise.race([
      echoed,
      link.ended.then(() => {
        throw new Error(`resume refused: ${link.closeCode} ${link.errorCode ?? link.closeReason}`);
      }),
    ]);
    this.link = link;
    const sample = {
      liveMs: at - link.startedAt,
      helloMs: (link.helloAt ?? Number.NaN) - link.startedAt,
      replayed: link.bytes - 1,
    };
    // Rub the key out again (untimed) and wait for the line to settle.
    const rubbed = link.expect('\b', 5000);
    link.send('\x7f');
    await rubbed;
    await sleep(20);
    return sample;
  }
}

export const resume: BenchCase = {
  name: 'resume',
  title: '7. Resume: network back to live output',
  async run(context) {
    const rounds = roundsFor(context, 9);
    const command = ['/bin/bash', '--norc', '--noprofile'];
    const env = { HOME: context.emptyHome, PS1: PROMPT };
    const servers: Array<{ build: Build; server: ServerProcess; proxy: CutProxy }> = [];
    const clients = new Map<string, ResumingClient>();
    const subjects: Array<{ name: string; scenario: Scenario; index: number }> = [];
    const samples = new Map<string, Sample[]>();
    try {
      for (const build of context.builds) {
        const server = await ServerProcess.start({
          build,
          options: { userShellCommand: command, env, resumeWindow: 60 },
        });
        const proxy = await CutProxy.start(server.port);
        servers.push({ build, server, proxy });
        const index = servers.length - 1;
        for (const [label, scenario] of [
          ['fresh connect (no resume)', 'fresh'],
          ['resume, nothing missed', 'resume'],
          [`resume, ${kib(MISSED_BYTES, 0)} missed`, 'resume-missed'],
        ] as const) {
          const name = subjectName(label, build);
          subjects.push({ name, scenario, index });
          samples.set(name, []);
          if (scenario !== 'fresh') {
            const client = new ResumingClient(proxy.url, server.token);
            await client.start();
            clients.set(name, client);
          }
        }
      }
      context.log(`resume: ${rounds} rounds per scenario`);
      await interleave(rounds + 1, subjects, async (subject, round) => {
        const { server, proxy } = servers[subject.index] as (typeof servers)[number];
        let sample: Sample;
        if (subject.scenario === 'fresh') {
          const start = performance.now();
          const link = new WsLink({ url: proxy.url, kind: 'v1', credential: server.token });
          const first = await link.nextOutput(30_000);
          sample = {
            liveMs: first - start,
            helloMs: (link.helloAt ?? Number.NaN) - start,
            replayed: 0,
          };
          await link.close();
          await sleep(50);
        } else {
          const client = clients.get(subject.name) as ResumingClient;
          sample = await client.cutAndResume(
            proxy,
            subject.scenario === 'resume-missed' ? MISSED_BYTES : 0,
          );
        }
        if (round > 0) samples.get(subject.name)?.push(sample);
        context.log(`  ${subject.name}: ${millis(sample.liveMs)}`);
      });
    } finally {
      for (const client of clients.values()) {
        await client.link.close();
      }
      for (const { server, proxy } of servers) {
        await proxy.close();
        await server.close();
      }
    }
    const rows: Row[] = [];
    for (const subject of subjects) {
      const mine = samples.get(subject.name) ?? [];
      const live = mine.map((s) => s.liveMs);
      const fresh = subjects.find((s) => s.index === subject.index && s.scenario === 'fresh');
      const freshMedian = median((samples.get(fresh?.name ?? '') ?? []).map((s) => s.liveMs));
      const isFresh = subject.scenario === 'fresh';
      rows.push({
        case: '7 resume',
        metric: isFresh
          ? 'new socket → first output (new shell)'
          : 'new socket → live output (echo)',
        subject: subject.name,
        value: millis(median(live), 2),
        ...(isFresh
          ? {}
          : {
              baseline: `fresh ${millis(freshMedian, 2)}`,
              ratio: fixed(median(live) / freshMedian, 2),
            }),
        spread: `${range(live, 2)} ms`,
        note:
          `hello after ${millis(median(mine.map((s) => s.helloMs)), 2)}` +
          (isFresh ? '' : `; replayed ${kib(median(mine.map((s) => s.replayed)), 0)}`) +
          `; ${mine.length} runs; via a loopback proxy`,
      });
    }
    return rows;
  },
};
