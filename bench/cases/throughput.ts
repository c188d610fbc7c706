// Case 1: output throughput (MB/s) over WebSocket vs a raw node-pty read, sha256-checked.
// An interactive `bash -l` (empty HOME) runs `cat` of 50 MB of random bytes as one base64 line
// (66.7 MB, no newline: the pty changes nothing), framed by markers; read raw through node-pty
// in this process (the baseline) and through the server (legacy, v1). Then the same file through
// `bash -c 'cat FILE'`, where the shell exits right after: are the last bytes delivered?
import { createHash } from 'node:crypto';
import {
  cpuMs,
  roundsFor,
  subjectName,
  type BenchCase,
  type BenchContext,
} from '../lib/context.js';
import { FramedPayload } from '../lib/framed.js';
import { RawLink, WsLink, type Link } from '../lib/links.js';
import type { Row } from '../lib/report.js';
import { base64RandomFile, type PayloadFile } from '../lib/payload.js';
import { ServerProcess, type Build } from '../lib/server-process.js';
import { fixed, interleave, median, range } from '../lib/stats.js';

const RANDOM_BYTES = 50_000_000;
const QUICK_RANDOM_BYTES = 10_000_000;
/** Printed by the shell around the payload; `-` is not a base64 character. */
const BEGIN = '-xjs-begin-\r\n';
const END = '\r\n-xjs-end-';

/** Deterministic "random" bytes as one base64 line (bench/lib/payload.ts). */
function inputFile(context: BenchContext): Promise<PayloadFile> {
  return base64RandomFile(context.dataDir, context.quick ? QUICK_RANDOM_BYTES : RANDOM_BYTES);
}

interface Sample {
  readonly mbps: number;
  readonly ok: boolean;
  readonly serverCpuMsPerMB: number;
  /** CPU of this process (the raw reader, or the WebSocket client) per MB. */
  readonly readerCpuMsPerMB: number;
}

/** Types the framed `cat` into the shell behind `link` and times the payload. */
async function catThrough(
  link: Link,
  file: { path: string; size: number; sha256: string },
  serverPid?: number,
): Promise<Sample> {
  const payload = new FramedPayload(BEGIN, END);
  link.onOutput = (chunk, at) => payload.push(chunk, at);
  if (link instanceof WsLink) {
    await link.ready();
  }
  const cpuBefore = serverPid === undefined ? Number.NaN : cpuMs(serverPid);
  const ownBefore = process.cpuUsage();
  link.send(`printf -- '-xjs-%s-\\n' begin; cat ${file.path}; printf -- '\\n-xjs-%s-\\n' end\r`);
  await Promise.race([
    payload.done,
    link.ended.then(() => {
      throw new Error(`${link.kind}: the shell ended before the payload did`);
    }),
  ]);
  const cpuAfter = serverPid === undefined ? Number.NaN : cpuMs(serverPid);
  const own = process.cpuUsage(ownBefore);
  await link.close();
  const seconds = ((payload.endedAt ?? 0) - (payload.beganAt ?? 0)) / 1000;
  return {
    mbps: payload.bytes / 1e6 / seconds,
    ok: payload.bytes === file.size && payload.sha256 === file.sha256,
    serverCpuMsPerMB: (cpuAfter - cpuBefore) / (payload.bytes / 1e6),
    readerCpuMsPerMB: (own.user + own.system) / 1000 / (payload.bytes / 1e6),
  };
}

/** Bytes missing when the shell exits right after its output (`bash -c 'cat FILE'`). */
async function lostAtExit(link: Link, file: { size: number; sha256: string }): Promise<number> {
  const hash = createHash('sha256');
  link.onOutput = (chunk) => hash.update(chunk);
  await link.ended;
  const lost = file.size - link.bytes;
  return lost === 0 && hash.digest('hex') !== file.sha256 ? Number.NaN : lost;
}

type Kind = 'raw' | 'legacy' | 'v1';
interface Subject {
  readonly name: string;
  readonly kind: Kind;
  readonly build?: Build;
}

export const throughput: BenchCase = {
  name: 'throughput',
  title: '1. Output throughput (MB/s over WebSocket vs raw node-pty)',
  async run(context) {
    const rounds = roundsFor(context, 5);
    const file = await inputFile(context);
    const env = { HOME: context.emptyHome };
    const shell = ['/bin/bash', '-l'];
    const exiting = ['/bin/bash', '--norc', '--noprofile', '-c', `cat ${file.path}`];
    context.log(`throughput: ${fixed(file.size / 1e6)} MB of base64, ${rounds} rounds`);
    const servers = new Map<Build, { shell: ServerProcess; exiting: ServerProcess }>();
    for (const build of context.builds) {
      servers.set(build, {
        shell: await ServerProcess.start({ build, options: { userShellCommand: shell, env } }),
        exiting: await ServerProcess.start({ build, options: { userShellCommand: exiting, env } }),
      });
    }
    const subjects: Subject[] = [{ name: 'raw node-pty', kind: 'raw' }];
    for (const build of context.builds) {
      subjects.push({ name: subjectName('legacy', build), kind: 'legacy', build });
      subjects.push({ name: subjectName('v1', build), kind: 'v1', build });
    }
    const samples = new Map<string, Sample[]>(subjects.map((s) => [s.name, []]));
    const lost = new Map<string, number[]>();
    const exitSubjects: Subject[] = [
      { name: 'raw node-pty', kind: 'raw' },
      { name: 'raw node-pty + drain at end', kind: 'raw' },
      ...subjects.filter((s) => s.kind !== 'raw'),
    ];
    try {
      await interleave(rounds, subjects, async (subject) => {
        let sample: Sample;
        if (subject.kind === 'raw') {
          sample = await catThrough(new RawLink({ command: shell, env }), file);
        } else {
          const server = servers.get(subject.build as Build)?.shell as ServerProcess;
          const link = new WsLink({
            url: server.url,
            kind: subject.kind,
            credential: server.token,
          });
          sample = await catThrough(link, file, server.pid);
          await server.waitIdle();
        }
        samples.get(subject.name)?.push(sample);
        context.log(
          `  ${subject.name}: ${fixed(sample.mbps)} MB/s${sample.ok ? '' : ' (sha256 MISMATCH)'}`,
        );
      });
      context.log('  shell exiting right after its output:');
      await interleave(Math.min(rounds, 3), exitSubjects, async (subject) => {
        let missing: number;
        if (subject.kind === 'raw') {
          const drain = subject.name.includes('drain');
          missing = await lostAtExit(
            new RawLink({ command: exiting, env, drainAtEnd: drain }),
            file,
          );
        } else {
          const server = servers.get(subject.build as Build)?.exiting as ServerProcess;
          missing = await lostAtExit(
            new WsLink({ url: server.url, kind: subject.kind, credential: server.token }),
            file,
          );
          await server.waitIdle();
        }
        lost.set(subject.name, [...(lost.get(subject.name) ?? []), missing]);
        context.log(`  ${subject.name}: ${missing} bytes missing`);
      });
    } finally {
      for (const pair of servers.values()) {
        await pair.shell.close();
        await pair.exiting.close();
      }
    }
    const raw = samples.get('raw node-pty') ?? [];
    const rawMedian = median(raw.map((s) => s.mbps));
    const rows: Row[] = [];
    for (const subject of subjects) {
      const mine = samples.get(subject.name) ?? [];
      const values = mine.map((s) => s.mbps);
      const ok = mine.filter((s) => s.ok).length;
      const ratio = median(values) / rawMedian;
      // Paired ratios: each round's subject against the raw read of the same round.
      const paired = mine.map((s, i) => s.mbps / (raw[i]?.mbps ?? Number.NaN));
      rows.push({
        case: '1 throughput',
        metric: 'MB/s, bash -l, cat 66.7 MB',
        subject: subject.name,
        value: fixed(median(values)),
        ...(subject.kind === 'raw'
          ? {}
          : {
              baseline: `raw ${fixed(rawMedian)}`,
              ratio: fixed(ratio, 2),
              target: '≥ 0.85 × raw',
              pass: ratio >= 0.85,
            }),
        spread: `${range(values)}${subject.kind === 'raw' ? '' : `; paired ratio ${range(paired, 2)}`}`,
        note:
          `sha256 ok ${ok}/${mine.length}; ` +
          (subject.kind === 'raw'
            ? `reader CPU ${fixed(median(mine.map((s) => s.readerCpuMsPerMB)), 1)} ms/MB`
            : `server CPU ${fixed(median(mine.map((s) => s.serverCpuMsPerMB)), 1)} ms/MB, ` +
              `client CPU ${fixed(median(mine.map((s) => s.readerCpuMsPerMB)), 1)} ms/MB`),
      });
    }
    for (const subject of exitSubjects) {
      const values = lost.get(subject.name) ?? [];
      rows.push({
        case: '1 throughput',
        metric: 'bytes lost when the shell exits right after',
        subject: subject.name,
        value: fixed(median(values), 0),
        spread: range(values, 0),
        target: '0',
        pass: values.every((value) => value === 0),
        note: `bash -c 'cat FILE', ${values.length} runs`,
      });
    }
    return rows;
  },
};
