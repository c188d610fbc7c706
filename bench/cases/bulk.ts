// Case 9: bulk transfer, 1 GiB of random bytes through v1, sha256 equal on both sides; and the
// same with three cuts (TCP reset at a proxy, at 25, 50 and 75 %) each resumed from the offset.
// The shell sets its pty raw (`stty raw -echo -opost`: bytes pass unchanged), then runs
// `head -c N /dev/urandom | tee /dev/tty | sha256sum`: the bytes go to the pty and to the hash
// at once, and the shell's digest is printed after the end marker, with the pty sane again. The
// client hashes what arrived between the markers; the two digests must be equal. Nothing is
// written to disk on either side.
import { performance } from 'node:perf_hooks';
import { roundsFor, subjectName, type BenchCase } from '../lib/context.js';
import { CutProxy } from '../lib/cut-proxy.js';
import { FramedPayload } from '../lib/framed.js';
import { WsLink } from '../lib/links.js';
import type { Row } from '../lib/report.js';
import { ServerProcess, type Build } from '../lib/server-process.js';
import { fixed, interleave, median, millis, range } from '../lib/stats.js';

const BYTES = 1024 ** 3;
const QUICK_BYTES = 64 * 1024 ** 2;
const PROMPT = 'xjs-bulk$ ';
/** Markers around the payload, and the shell's digest after it; none is in the typed line. */
const BEGIN = '-xjs-bulk-begin-';
const END = '-xjs-bulk-end-';
const DIGEST = /-xjs-sum-([0-9a-f]{64})-/;
/** The cut points, as fractions of the payload. */
const CUTS = [0.25, 0.5, 0.75];

type Scenario = 'direct' | 'proxy' | 'cuts';

interface Sample {
  readonly mbps: number;
  readonly bytes: number;
  readonly ok: boolean;
  readonly detail: string;
  /** Cut → first byte on the new socket, per cut. */
  readonly resumeMs: readonly number[];
}

/** The command typed into the shell; printf pieces keep the markers out of its echo. */
function command(bytes: number): string {
  return (
    "stty raw -echo -opost; printf -- '-xjs-bulk-%s-' begin; " +
    `head -c ${bytes} /dev/urandom | tee /dev/tty | sha256sum | ` +
    "{ read -r sum _; printf -- '-xjs-bulk-%s-' end; stty sane </dev/tty; " +
    'printf -- \'\\r\\n-xjs-%s-%s-\\r\\n\' sum "$sum"; }\r'
  );
}

/** Rejects after `ms` with `what`; the returned function cancels it. */
function deadline(ms: number, what: () => string): { expired: Promise<never>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`deadline of ${ms / 1000} s: ${what()}`)), ms);
  });
  expired.catch(() => undefined);
  return { expired, cancel: () => clearTimeout(timer) };
}

/**
 * One transfer of `bytes` through `url` (the server, or a proxy in front of it); with `proxy`
 * and `cuts`, the connection is cut at each point and resumed from the offset received.
 */
async function transfer(
  url: string,
  token: string,
  bytes: number,
  timeoutMs: number,
  cutting?: { proxy: CutProxy; at: readonly number[] },
): Promise<Sample> {
  const payload = new FramedPayload(BEGIN, END);
  let after = '';
  const onOutput = (chunk: Buffer, at: number): void => {
    const ended = payload.endedAt !== undefined;
    payload.push(chunk, at);
    if (ended || payload.endedAt !== undefined) {
      after = (after + chunk.toString('latin1')).slice(-8192);
    }
  };
  let link = new WsLink({ url, kind: 'v1', credential: token });
  link.onOutput = onOutput;
  const resumeMs: number[] = [];
  const limit = deadline(
    timeoutMs,
    () => `${payload.bytes} of ${bytes} bytes arrived, ${resumeMs.length} cuts done`,
  );
  try {
    await Promise.race([link.ready(), limit.expired]);
    await Promise.race([link.expect(PROMPT, 10_000, true), limit.expired]);
    link.send(command(bytes));
    for (const point of cutting?.at ?? []) {
      // Wait for the cut point, polling: output handling stays as cheap as without cuts.
      while (payload.bytes < point * bytes && payload.endedAt === undefined) {
        await Promise.race([new Promise((resolve) => setTimeout(resolve, 5)), limit.expired]);
        if (link.closeCode !== undefined) {
          throw new Error(`closed (${link.closeCode} ${link.closeReason}) before a cut`);
        }
      }
      if (payload.endedAt !== undefined) {
        throw new Error('the payload ended before a cut point');
      }
      const old = link;
      const cutAt = performance.now();
      (cutting as { proxy: CutProxy }).proxy.cut(old.localPort);
      await Promise.race([old.ended, limit.expired]);
      const resumed = new WsLink({
        url,
        kind: 'v1',
        credential: token,
        resume: { sessionId: old.hello?.sessionId ?? '', offset: old.offset },
      });
      resumed.onOutput = onOutput;
      link = resumed;
      await Promise.race([
        resumed.nextOutput(30_000),
        resumed.ended.then(() => {
          throw new Error(`resume refused: ${resumed.closeCode} ${resumed.closeReason}`);
        }),
        limit.expired,
      ]);
      resumeMs.push(performance.now() - cutAt);
    }
    const last = link;
    await Promise.race([
      payload.done,
      last.ended.then(() => {
        throw new Error(`closed (${last.closeCode} ${last.closeReason}) before the end`);
      }),
      limit.expired,
    ]);
    const digest = await Promise.race([
      (async () => {
        for (;;) {
          const match = DIGEST.exec(after);
          if (match !== null) return match[1] as string;
          if (link.closeCode !== undefined) throw new Error('closed before the digest');
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })(),
      limit.expired,
    ]);
    const seconds = ((payload.endedAt ?? 0) - (payload.beganAt ?? 0)) / 1000;
    const ok = payload.bytes === bytes && payload.sha256 === digest;
    return {
      mbps: payload.bytes / 1e6 / seconds,
      bytes: payload.bytes,
      ok,
      detail: ok
        ? ''
        : `received ${payload.bytes} of ${bytes} bytes, sha256 ${payload.sha256} vs shell ${digest}`,
      resumeMs,
    };
  } finally {
    limit.cancel();
    await link.close();
  }
}

export const bulk: BenchCase = {
  name: 'bulk',
  title:
    '9. Bulk transfer: 1 GiB of random bytes through v1, sha256-checked, with and without cuts',
  async run(context) {
    const rounds = roundsFor(context, 1, 1);
    const bytes = context.quick ? QUICK_BYTES : BYTES;
    // At least 4 MB/s, or the run is given up (a pty never stalls that long on loopback).
    const timeoutMs = Math.max(60_000, (bytes / 4e6) * 1000);
    const env = { HOME: context.emptyHome, PS1: PROMPT };
    const shell = ['/bin/bash', '--norc', '--noprofile'];
    const servers: Array<{ build: Build; server: ServerProcess; proxy: CutProxy }> = [];
    const subjects: Array<{ name: string; scenario: Scenario; index: number }> = [];
    const samples = new Map<string, Sample[]>();
    context.log(`bulk: ${fixed(bytes / 1e6)} MB of /dev/urandom per transfer, ${rounds} rounds`);
    try {
      for (const build of context.builds) {
        const server = await ServerProcess.start({
          build,
          options: { userShellCommand: shell, env, resumeWindow: 60 },
        });
        const proxy = await CutProxy.start(server.port);
        servers.push({ build, server, proxy });
        for (const [label, scenario] of [
          ['v1', 'direct'],
          ['v1 via a proxy', 'proxy'],
          ['v1 via a proxy, 3 cuts resumed', 'cuts'],
        ] as const) {
          const name = subjectName(label, build);
          subjects.push({ name, scenario, index: servers.length - 1 });
          samples.set(name, []);
        }
      }
      await interleave(rounds, subjects, async (subject) => {
        const { server, proxy } = servers[subject.index] as (typeof servers)[number];
        const sample = await transfer(
          subject.scenario === 'direct' ? server.url : proxy.url,
          server.token,
          bytes,
          timeoutMs,
          subject.scenario === 'cuts' ? { proxy, at: CUTS } : undefined,
        );
        await server.waitIdle();
        samples.get(subject.name)?.push(sample);
        context.log(
          `  ${subject.name}: ${fixed(sample.mbps)} MB/s, sha256 ${sample.ok ? 'equal' : `MISMATCH: ${sample.detail}`}` +
            (sample.resumeMs.length > 0
              ? `; resumed after ${sample.resumeMs.map((ms) => millis(ms)).join(', ')}`
              : ''),
        );
      });
    } finally {
      for (const { server, proxy } of servers) {
        await proxy.close();
        await server.close();
      }
    }
    const rows: Row[] = [];
    for (const subject of subjects) {
      const mine = samples.get(subject.name) ?? [];
      const values = mine.map((s) => s.mbps);
      const ok = mine.filter((s) => s.ok).length;
      const resumes = mine.flatMap((s) => s.resumeMs);
      rows.push({
        case: '9 bulk',
        metric: `MB/s, head -c ${bytes} /dev/urandom, raw pty`,
        subject: subject.name,
        value: fixed(median(values)),
        spread: range(values),
        target: 'sha256 equal',
        pass: mine.length > 0 && ok === mine.length,
        note:
          `sha256 equal ${ok}/${mine.length}` +
          (resumes.length > 0 ? `; cut → first byte again ${range(resumes)} ms` : '') +
          mine
            .filter((s) => !s.ok)
            .map((s) => `; ${s.detail}`)
            .join(''),
      });
    }
    return rows;
  },
};
