// Case 5: server memory while a client stops reading during a flood, and recovery afterwards.
// v1 with acknowledgements stopped, legacy with its TCP socket paused: the server's RSS growth
// (VmRSS of its process), whether the flooding process stops writing within a second (paused,
// not killed), and whether every byte arrives once the client reads again. Baseline: the
// server's own RSS before the connection, after a garbage collection.
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { roundsFor, sleep, subjectName, type BenchCase } from '../lib/context.js';
import { FramedPayload } from '../lib/framed.js';
import { WsLink } from '../lib/links.js';
import { bytesWritten, descendantsNamed } from '../lib/procfs.js';
import type { Row } from '../lib/report.js';
import { ServerProcess, type Build } from '../lib/server-process.js';
import { fixed, interleave, median, mib, millis, range } from '../lib/stats.js';

const LINES = 2_000_000;
const QUICK_LINES = 500_000;
/** How long the client stays stalled. */
const STALL_MS = 3000;
const END = '-xjs-end-';

/** `seq 1 N` as the pty delivers it (\n becomes \r\n): its size and sha256. */
function expectedSeq(lines: number): { size: number; sha256: string } {
  const hash = createHash('sha256');
  let size = 0;
  const batch: string[] = [];
  for (let i = 1; i <= lines; i += 1) {
    batch.push(`${i}\r\n`);
    if (batch.length === 10_000 || i === lines) {
      const text = batch.join('');
      hash.update(text, 'latin1');
      size += text.length;
      batch.length = 0;
    }
  }
  return { size, sha256: hash.digest('hex') };
}

interface Sample {
  readonly growth: number;
  /** ms from the first output until the flooding process last wrote during the stall. */
  readonly stoppedAfter: number;
  /** True when it wrote nothing during the last second of the stall. */
  readonly stopped: boolean;
  readonly intact: boolean;
  readonly missing: number;
  readonly alive: boolean;
  /** Bytes the flooding process had written when it stopped (kernel and server buffers). */
  readonly writtenAtStop: number;
}

type Kind = 'legacy' | 'v1';

async function stallAndRecover(
  server: ServerProcess,
  kind: Kind,
  expected: { size: number; sha256: string },
): Promise<Sample> {
  await server.gc();
  await sleep(100);
  const baseline = server.rss();
  const payload = new FramedPayload(undefined, `\r\n${END}`);
  const link = new WsLink({ url: server.url, kind, credential: server.token, ack: false });
  link.onOutput = (chunk, at) => payload.push(chunk, at);
  await link.opened;
  if (kind === 'legacy') {
    link.socket.pause(); // stop reading: the kernel buffers fill, then the server's
  }
  let flooder: number | undefined;
  let peak = baseline;
  let lastWrite = Number.NaN;
  let lastWritten = -1;
  let firstAt = Number.NaN;
  const start = performance.now();
  while (performance.now() - start < STALL_MS) {
    await sleep(50);
    peak = Math.max(peak, server.rss());
    flooder ??= descendantsNamed(server.pid, 'seq')[0];
    if (flooder === undefined) continue;
    const written = bytesWritten(flooder);
    if (written > 0 && Number.isNaN(firstAt)) firstAt = performance.now();
    if (written !== lastWritten) {
      lastWritten = written;
      lastWrite = performance.now();
    }
  }
  const alive = flooder !== undefined && !Number.isNaN(bytesWritten(flooder));
  if (kind === 'legacy') {
    link.socket.resume();
  } else {
    link.setAck(true);
  }
  await Promise.race([payload.done, sleep(120_000)]);
  await link.close();
  await server.waitIdle();
  return {
    growth: peak - baseline,
    stoppedAfter: lastWrite - firstAt,
    stopped: performance.now() - lastWrite > 0 && start + STALL_MS - lastWrite >= 1000,
    intact: payload.bytes === expected.size && payload.sha256 === expected.sha256,
    missing: expected.size - payload.bytes,
    alive,
    writtenAtStop: lastWritten,
  };
}

export const memory: BenchCase = {
  name: 'memory',
  title: '5. Server memory while a client stops reading during a flood',
  async run(context) {
    const rounds = roundsFor(context, 3, 1);
    const lines = context.quick ? QUICK_LINES : LINES;
    const expected = expectedSeq(lines);
    // The shell stays after the flood, so its exit cannot cut the output's tail.
    const command = [
      '/bin/bash',
      '--norc',
      '--noprofile',
      '-c',
      `seq 1 ${lines}; printf -- '\\n${END.replaceAll('-', '-')}\\n'; exec sleep 600`,
    ];
    const env = { HOME: context.emptyHome };
    const servers = new Map<Build, ServerProcess>();
    const subjects: Array<{ name: string; kind: Kind; build: Build }> = [];
    const samples = new Map<string, Sample[]>();
    const baselines: number[] = [];
    try {
      for (const build of context.builds) {
        const server = await ServerProcess.start({
          build,
          options: { userShellCommand: command, env, shellLogoutWait: 0.2 },
        });
        servers.set(build, server);
        for (const kind of ['v1', 'legacy'] as const) {
          subjects.push({ name: subjectName(kind, build), kind, build });
          samples.set(subjectName(kind, build), []);
        }
      }
      context.log(
        `memory: seq 1 ${lines} (${mib(expected.size)}), stalled ${STALL_MS} ms, ${rounds} rounds`,
      );
      // One unmeasured round per subject: the first connection loads and compiles code.
      await interleave(rounds + 1, subjects, async (subject, round) => {
        const server = servers.get(subject.build) as ServerProcess;
        const sample = await stallAndRecover(server, subject.kind, expected);
        baselines.push(server.rss());
        if (round > 0) samples.get(subject.name)?.push(sample);
        context.log(
          `  ${subject.name}${round === 0 ? ' (warm-up)' : ''}: +${mib(sample.growth)}, writes stopped after ${millis(sample.stoppedAfter, 0)}, ${sample.intact ? 'intact' : `${sample.missing} bytes missing`}`,
        );
      });
    } finally {
      for (const server of servers.values()) {
        await server.close();
      }
    }
    return subjects.map((subject): Row => {
      const mine = samples.get(subject.name) ?? [];
      const growth = mine.map((s) => s.growth);
      const stoppedAfter = mine.map((s) => s.stoppedAfter);
      const ok = mine.every((s) => s.stopped && s.alive && s.intact);
      return {
        case: '5 memory',
        metric: 'server RSS growth, client stalled 3 s',
        subject: `${subject.name}${subject.kind === 'v1' ? ' (acks stopped)' : ' (socket paused)'}`,
        value: mib(median(growth)),
        baseline: `idle RSS ${mib(median(baselines), 1)}`,
        target: '≤ 4 MiB; paused < 1 s; nothing lost',
        pass: median(growth) <= 4 * 1024 * 1024 && ok && Math.max(...stoppedAfter) < 1000,
        spread: `${range(
          growth.map((g) => g / 1024 / 1024),
          2,
        )} MiB`,
        note:
          `shell writes stopped after ${range(stoppedAfter, 0)} ms, ` +
          `at ${fixed(median(mine.map((s) => s.writtenAtStop)) / 1e6, 1)} MB written, ` +
          `${mine.filter((s) => s.stopped && s.alive).length}/${mine.length} paused and alive; ` +
          `${mine.filter((s) => s.intact).length}/${mine.length} complete after reading again` +
          ` (${fixed(expected.size / 1e6, 1)} MB)`,
      };
    });
  },
};
