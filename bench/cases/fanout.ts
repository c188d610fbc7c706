// Case 9: one shell, many screens. A v1 writer and 10 readers (hello `attach` with the server's
// token, so role owner; events on; each acknowledges as a page does) on one shell, against a lone
// viewer on a shell of the same server, interleaved. (a) A flood, `cat` of the throughput case's
// 66.7 MB base64 line: each viewer's MB/s between the markers and the sha256 of what it got,
// and the server's CPU (/proc/PID/stat) per MB of shell output. (b) The writer's keystroke →
// echo in `cat` (the tty echoes), alone, with the 10 readers attached (they get each echo too),
// and with 10 readers whose sockets are never read (the server's share). The writer runs in this
// process, as the throughput case's client does; the readers in a child process of their own
// (bench/lib/reader-child.ts), so the writer's client does the same work in every subject.
import { performance } from 'node:perf_hooks';
import { cpuMs, roundsFor, sleep, subjectName, type BenchCase } from '../lib/context.js';
import { FramedPayload } from '../lib/framed.js';
import { WsLink } from '../lib/links.js';
import { base64RandomFile, type PayloadFile } from '../lib/payload.js';
import { ReaderPool, monotonicMs } from '../lib/reader-pool.js';
import type { ReaderTrace } from '../lib/reader-protocol.js';
import { descendantsNamed } from '../lib/procfs.js';
import type { Row } from '../lib/report.js';
import { ServerProcess, type Build } from '../lib/server-process.js';
import { fixed, interleave, median, micros, range, summarize, type Summary } from '../lib/stats.js';

const READERS = 10;
const RANDOM_BYTES = 50_000_000;
const QUICK_RANDOM_BYTES = 10_000_000;
const PROMPT = 'xjs-fan$ ';
/** Printed by the shell around the payload; `-` is not a base64 character. */
const BEGIN = '-xjs-begin-\r\n';
const END = '\r\n-xjs-end-';
/** One flood round may take this long, all viewers included. */
const ROUND_TIMEOUT_MS = 60_000;
/** No flood round starts after this much of the case; no echo line after the second. */
const FLOOD_BUDGET_MS = 80_000;
const CASE_BUDGET_MS = 110_000;
const KEYS_PER_LINE = 60;
/** Pause between keystrokes, as in the echo case. */
const GAP_MS = 2;
const ECHO_ALONE = 'alone';
const ECHO_READERS = `${READERS} readers attached`;
const ECHO_PAUSED = `${READERS} readers attached, not reading`;

/** A new shell and its writer (this process); `pool`'s readers join it when given. */
interface Session {
  readonly writer: WsLink;
  readonly pool: ReaderPool | undefined;
}

async function openSession(server: ServerProcess, pool: ReaderPool | undefined): Promise<Session> {
  const writer = new WsLink({
    url: server.url,
    kind: 'v1',
    credential: server.token,
    events: true,
  });
  try {
    await writer.ready();
    await writer.expect(PROMPT, 10_000, true);
    await pool?.attach(server.url, server.token, writer.hello?.sessionId ?? '', READERS);
  } catch (error) {
    await pool?.closePages().catch(() => undefined);
    await writer.close();
    throw error;
  }
  return { writer, pool };
}

/** Closes every page (1000: the last one out ends the shell). */
async function closeSession(session: Session): Promise<void> {
  await Promise.all([session.writer.close(), session.pool?.closePages()]);
}

/** Rejects after `ms` with `describe()`, or when `ended` resolves first. */
function deadline<T>(
  work: Promise<T>,
  ms: number,
  ended: Promise<void>,
  describe: () => string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${describe()}`)), ms);
    }),
    ended.then(() => {
      throw new Error(`the writer's connection ended: ${describe()}`);
    }),
  ]).finally(() => clearTimeout(timer));
}

interface ViewerSample {
  /** MB/s received, first to last payload byte. */
  readonly mbps: number;
  /** The same with the bytes skipped for it: how fast it went through the shell's output. */
  readonly pace: number;
  readonly ok: boolean;
  readonly bytes: number;
  readonly skipped: number;
  /** `skipped` events out of step with what it had received (should be 0). */
  readonly skipMismatches: number;
}

interface FloodSample {
  readonly writer: ViewerSample;
  readonly readers: readonly ViewerSample[];
  /** Server CPU (user + system) per MB of the shell's output. */
  readonly serverCpuMsPerMB: number;
  /** MB of the shell's output (the payload). */
  readonly megabytes: number;
  /** The clients' CPU per MB of the shell's output: the writer's (this process), the pool's. */
  readonly writerCpuMsPerMB: number;
  readonly poolCpuMsPerMB: number;
  /** Command sent → every viewer had the end marker. */
  readonly wallMs: number;
}

function viewerSample(
  file: PayloadFile,
  bytes: number,
  sha256: string,
  ms: number,
  skipped: number,
  skipMismatches: number,
): ViewerSample {
  return {
    mbps: bytes / 1e3 / ms,
    pace: (bytes + skipped) / 1e3 / ms,
    ok: bytes === file.size && sha256 === file.sha256,
    bytes,
    skipped,
    skipMismatches,
  };
}

/** Floods the shell of a new session (with `pool`'s readers, if given) with `cat FILE`. */
async function flood(
  server: ServerProcess,
  pool: ReaderPool | undefined,
  file: PayloadFile,
  catCommand = `cat ${file.path}`,
): Promise<FloodSample> {
  const session = await openSession(server, pool);
  const writer = session.writer;
  try {
    const payload = new FramedPayload(BEGIN, END);
    writer.onOutput = (chunk, at) => payload.push(chunk, at);
    await pool?.arm(BEGIN, END);
    const cpuBefore = cpuMs(server.pid);
    const poolBefore = pool === undefined ? 0 : cpuMs(pool.pid);
    const ownBefore = process.cpuUsage();
    const sent = performance.now();
    writer.send(`printf -- '-xjs-%s-\\n' begin; ${catCommand}; printf -- '\\n-xjs-%s-\\n' end\r`);
    await deadline(
      payload.done,
      ROUND_TIMEOUT_MS,
      writer.ended,
      () => `writer has ${payload.bytes} bytes`,
    );
    const readers = pool === undefined ? [] : await pool.collect(ROUND_TIMEOUT_MS);
    const wallMs = performance.now() - sent;
    const cpuAfter = cpuMs(server.pid);
    const poolAfter = pool === undefined ? 0 : cpuMs(pool.pid);
    const own = process.cpuUsage(ownBefore);
    const megabytes = payload.bytes / 1e6;
    return {
      writer: viewerSample(
        file,
        payload.bytes,
        payload.sha256,
        (payload.endedAt ?? 0) - (payload.beganAt ?? 0),
        writer.skippedBytes,
        writer.skipMismatches,
      ),
      readers: readers.map((r) =>
        viewerSample(file, r.bytes, r.sha256, r.ms, r.skipped, r.skipMismatches),
      ),
      serverCpuMsPerMB: (cpuAfter - cpuBefore) / megabytes,
      megabytes,
      writerCpuMsPerMB: (own.user + own.system) / 1000 / megabytes,
      poolCpuMsPerMB: (poolAfter - poolBefore) / megabytes,
      wallMs,
    };
  } finally {
    await closeSession(session);
    await server.waitIdle();
  }
}

/** Starts `cat` in the session's shell and waits until it runs (the tty echoes again). */
async function startCat(server: ServerProcess, session: Session): Promise<void> {
  const running = descendantsNamed(server.pid, 'cat').length + 1;
  const echoed = session.writer.expect('cat\r\n', 5000);
  session.writer.send('cat\r');
  await echoed;
  const start = performance.now();
  while (descendantsNamed(server.pid, 'cat').length < running) {
    if (performance.now() - start > 5000) {
      throw new Error('cat did not start in 5 s');
    }
    await sleep(10);
  }
}

interface Keystroke {
  /** Milliseconds until the writer had its echo. */
  readonly writer: number;
  /** When it was sent (monotonic clock) and the session offset its echo starts at. */
  readonly sentAt: number;
  readonly offset: number;
}

async function keystroke(writer: WsLink, key: string): Promise<Keystroke> {
  const echoed = writer.nextOutput(5000);
  const offset = writer.offset;
  const sentAt = monotonicMs();
  const sent = performance.now();
  writer.send(key);
  return { writer: (await echoed) - sent, sentAt, offset };
}

/**
 * Milliseconds from each keystroke until the last reader had its echo: the first chunk of each
 * reader's trace that reaches past the keystroke's offset.
 */
function lastReaderDelays(keys: readonly Keystroke[], traces: readonly ReaderTrace[]): number[] {
  return keys.map((key) => {
    let last = Number.NaN;
    for (const trace of traces) {
      const index = trace.ends.findIndex((end) => end > key.offset);
      const at = index < 0 ? Number.NaN : (trace.at[index] ?? Number.NaN);
      last = Number.isNaN(last) || at > last ? at : last;
    }
    return last - key.sentAt;
  });
}

/** Types KEYS_PER_LINE timed characters into `cat`, then Enter (untimed) and waits for cat. */
async function typeLine(session: Session, samples: Keystroke[] | undefined): Promise<void> {
  let line = '';
  for (let i = 0; i < KEYS_PER_LINE; i += 1) {
    await sleep(GAP_MS);
    const key = String.fromCharCode(97 + (i % 26));
    line += key;
    const sample = await keystroke(session.writer, key);
    samples?.push(sample);
  }
  // The tty echoes the Enter as CR LF, then cat prints the line.
  const printed = session.writer.expect(`\r\n${line}\r\n`, 5000);
  session.writer.send('\r');
  await printed;
  await sleep(GAP_MS);
}

interface FloodSubject {
  readonly name: string;
  readonly readers: boolean;
  readonly build: Build;
}

interface EchoSubject {
  readonly name: string;
  readonly session: Session;
  readonly build: Build;
  /** Readers whose sockets are not read: the server's work for them, none of theirs. */
  readonly paused: boolean;
}

interface EchoSamples {
  readonly keys: Keystroke[];
  /** Per keystroke with readers: until the last reader had the echo. */
  readonly lastReader: number[];
}

export const fanout: BenchCase = {
  name: 'fanout',
  title: `9. Fan-out: one writer and ${READERS} readers on one shell vs a lone viewer`,
  async run(context) {
    const started = performance.now();
    const rounds = roundsFor(context, 5);
    const lines = roundsFor(context, 20, 3);
    const file = await base64RandomFile(
      context.dataDir,
      context.quick ? QUICK_RANDOM_BYTES : RANDOM_BYTES,
    );
    const command = ['/bin/bash', '--norc', '--noprofile'];
    const env = { HOME: context.emptyHome, PS1: PROMPT };
    const servers = new Map<Build, ServerProcess>();
    const pools = new Map<Build, ReaderPool>();
    const pausedPools: ReaderPool[] = [];
    const floodSubjects: FloodSubject[] = [];
    const floods = new Map<string, FloodSample[]>();
    const echoSubjects: EchoSubject[] = [];
    const echoes = new Map<string, EchoSamples>();
    let floodRoundsSkipped = 0;
    let echoLinesSkipped = 0;
    try {
      for (const build of context.builds) {
        servers.set(
          build,
          await ServerProcess.start({ build, options: { userShellCommand: command, env } }),
        );
        pools.set(build, await ReaderPool.start());
        floodSubjects.push(
          { name: subjectName('lone viewer', build), readers: false, build },
          { name: subjectName(`writer + ${READERS} readers`, build), readers: true, build },
        );
      }
      context.log(
        `fanout: ${fixed(file.size / 1e6)} MB of base64 to 1 and to ${READERS + 1} viewers ` +
          `(readers in a child process), ${rounds} rounds`,
      );
      const poolOf = (subject: FloodSubject): ReaderPool | undefined =>
        subject.readers ? pools.get(subject.build) : undefined;
      // Warm-up (code loading, JIT), discarded: a short flood of each subject.
      for (const subject of floodSubjects) {
        const server = servers.get(subject.build) as ServerProcess;
        await flood(server, poolOf(subject), file, `head -c 4000000 ${file.path}`).catch(
          (error: unknown) => context.log(`  warm-up of ${subject.name} failed: ${String(error)}`),
        );
        floods.set(subject.name, []);
      }
      await interleave(rounds, floodSubjects, async (subject) => {
        if (performance.now() - started > FLOOD_BUDGET_MS) {
          floodRoundsSkipped += 1;
          return;
        }
        const server = servers.get(subject.build) as ServerProcess;
        const sample = await flood(server, poolOf(subject), file);
        floods.get(subject.name)?.push(sample);
        const readerMbps = sample.readers.map((r) => r.mbps);
        const all = [sample.writer, ...sample.readers];
        context.log(
          `  ${subject.name}: writer ${fixed(sample.writer.mbps)} MB/s` +
            (readerMbps.length > 0 ? `, readers ${range(readerMbps)} MB/s` : '') +
            `; server ${fixed(sample.serverCpuMsPerMB)} ms/MB; ` +
            `sha256 ok ${all.filter((v) => v.ok).length}/${all.length}`,
        );
      });

      // Echo: shells in cat with the writer alone, with 10 readers attached, and with 10
      // readers attached that do not read (their process never wakes: the server's share).
      for (const build of context.builds) {
        const server = servers.get(build) as ServerProcess;
        const paused = await ReaderPool.start();
        pausedPools.push(paused);
        const variants: Array<[string, ReaderPool | undefined]> = [
          [ECHO_ALONE, undefined],
          [ECHO_READERS, pools.get(build)],
          [ECHO_PAUSED, paused],
        ];
        for (const [label, pool] of variants) {
          const session = await openSession(server, pool);
          const name = subjectName(label, build);
          echoSubjects.push({ name, session, build, paused: pool === paused });
          await startCat(server, session);
          await typeLine(session, undefined); // warm-up, discarded
          if (pool === paused) {
            await pool.pause();
          } else {
            await pool?.trace(true);
          }
          echoes.set(name, { keys: [], lastReader: [] });
        }
      }
      context.log(`  echo into cat: ${lines} lines of ${KEYS_PER_LINE} keystrokes per subject`);
      await interleave(lines, echoSubjects, async (subject) => {
        if (performance.now() - started > CASE_BUDGET_MS) {
          echoLinesSkipped += 1;
          return;
        }
        const samples = echoes.get(subject.name) as EchoSamples;
        const keys: Keystroke[] = [];
        await typeLine(subject.session, keys);
        samples.keys.push(...keys);
        const pool = subject.session.pool;
        if (pool !== undefined && !subject.paused) {
          samples.lastReader.push(...lastReaderDelays(keys, await pool.traces()));
        }
      });
    } finally {
      for (const subject of echoSubjects) {
        await closeSession(subject.session);
      }
      for (const pool of [...pools.values(), ...pausedPools]) {
        await pool.close();
      }
      for (const server of servers.values()) {
        await server.close();
      }
    }
    if (floodRoundsSkipped + echoLinesSkipped > 0) {
      context.log(
        `  time budget: ${floodRoundsSkipped} flood rounds and ${echoLinesSkipped} echo lines skipped`,
      );
    }
    return [
      ...floodRows(context.builds, floods, file, floodRoundsSkipped),
      ...echoRows(context.builds, echoes),
    ];
  },
};

function okCount(samples: readonly ViewerSample[]): string {
  return `${samples.filter((s) => s.ok).length}/${samples.length}`;
}

function floodRows(
  builds: readonly Build[],
  floods: ReadonlyMap<string, FloodSample[]>,
  file: PayloadFile,
  skipped: number,
): Row[] {
  const rows: Row[] = [];
  const metric = `MB/s per viewer, cat ${fixed(file.size / 1e6)} MB`;
  const cpuMetric = 'server CPU, ms per MB of shell output';
  for (const build of builds) {
    const lone = floods.get(subjectName('lone viewer', build)) ?? [];
    const fan = floods.get(subjectName(`writer + ${READERS} readers`, build)) ?? [];
    const loneMbps = median(lone.map((s) => s.writer.mbps));
    const loneCpu = median(lone.map((s) => s.serverCpuMsPerMB));
    const fanCpu = median(fan.map((s) => s.serverCpuMsPerMB));
    const perExtra = (fanCpu - loneCpu) / READERS;
    // The same per MB an extra viewer actually got (skipped bytes cost the server nothing).
    const perExtraDelivered = median(
      fan.map((s) => {
        const received = s.readers.reduce((sum, r) => sum + r.bytes, 0) / 1e6;
        return ((s.serverCpuMsPerMB - loneCpu) * s.megabytes) / received;
      }),
    );
    // Reader i's median over the rounds; readers are numbered in the order they joined.
    const perReader = Array.from({ length: READERS }, (_, i) =>
      median(fan.map((s) => s.readers[i]?.mbps ?? Number.NaN)),
    );
    const slowest = Math.min(...perReader);
    const slowestPerRound = fan.map((s) => Math.min(...s.readers.map((r) => r.mbps)));
    const pairedSlowest = slowestPerRound.map((v, i) => v / (lone[i]?.writer.mbps ?? Number.NaN));
    const allReaders = fan.flatMap((s) => s.readers);
    const skippedShare = median(
      fan.map(
        (s) => s.readers.reduce((sum, r) => sum + r.skipped, 0) / (READERS * s.megabytes * 1e6),
      ),
    );
    const pace = median(allReaders.map((r) => r.pace));
    const mismatches = [...allReaders, ...fan.map((s) => s.writer)].reduce(
      (sum, v) => sum + v.skipMismatches,
      0,
    );
    const baseline = `lone ${fixed(loneMbps)}`;
    const rounds = `${fan.length} rounds${skipped > 0 ? ` (${skipped} skipped: time budget)` : ''}`;
    rows.push(
      {
        case: '9 fanout',
        metric,
        subject: subjectName('lone viewer', build),
        value: fixed(loneMbps),
        spread: range(lone.map((s) => s.writer.mbps)),
        note: `${lone.length} rounds; sha256 ok ${okCount(lone.map((s) => s.writer))}`,
      },
      {
        case: '9 fanout',
        metric,
        subject: subjectName(`writer, with ${READERS} readers`, build),
        value: fixed(median(fan.map((s) => s.writer.mbps))),
        baseline,
        ratio: fixed(median(fan.map((s) => s.writer.mbps)) / loneMbps, 2),
        spread: range(fan.map((s) => s.writer.mbps)),
        note: `${rounds}; sha256 ok ${okCount(fan.map((s) => s.writer))}; it drives the shell`,
      },
      {
        case: '9 fanout',
        metric,
        subject: subjectName(`${READERS} readers: median reader`, build),
        value: fixed(median(perReader)),
        baseline,
        ratio: fixed(median(perReader) / loneMbps, 2),
        spread: `per reader ${perReader.map((v) => fixed(v)).join(' ')}`,
        note:
          `${rounds}; sha256 ok ${okCount(allReaders)}; ${fixed(skippedShare * 100)} % of the ` +
          `output skipped (gone from the replay); with it a reader's pace ${fixed(pace)} MB/s; ` +
          `delivered ${fixed(median(fan.map((s) => ((READERS + 1) * s.megabytes * 1e3) / s.wallMs)))} MB/s to all` +
          (mismatches > 0 ? `; ${mismatches} skipped events out of step with the offset` : ''),
      },
      {
        case: '9 fanout',
        metric,
        subject: subjectName(`${READERS} readers: slowest reader`, build),
        value: fixed(slowest),
        baseline,
        ratio: fixed(slowest / loneMbps, 2),
        spread: `slowest per round ${range(slowestPerRound)}; paired ratio ${range(pairedSlowest, 2)}`,
        target: '≥ 0.8 × lone, each reader',
        pass: slowest / loneMbps >= 0.8,
        note: `${rounds}; the slowest of the readers' medians, bytes received`,
      },
      {
        case: '9 fanout',
        metric: cpuMetric,
        subject: subjectName('lone viewer', build),
        value: fixed(loneCpu),
        spread: range(lone.map((s) => s.serverCpuMsPerMB)),
        note: `client ${fixed(median(lone.map((s) => s.writerCpuMsPerMB)))} ms/MB`,
      },
      {
        case: '9 fanout',
        metric: cpuMetric,
        subject: subjectName(`writer + ${READERS} readers`, build),
        value: fixed(fanCpu),
        baseline: `lone ${fixed(loneCpu)}`,
        ratio: fixed(fanCpu / loneCpu, 2),
        spread: range(fan.map((s) => s.serverCpuMsPerMB)),
        note:
          `clients: writer ${fixed(median(fan.map((s) => s.writerCpuMsPerMB)))} ms/MB, ` +
          `${READERS} readers ${fixed(median(fan.map((s) => s.poolCpuMsPerMB)))} ms/MB`,
      },
      {
        case: '9 fanout',
        metric: cpuMetric,
        subject: subjectName('per extra viewer', build),
        value: fixed(perExtra, 2),
        baseline: `lone ${fixed(loneCpu)}`,
        ratio: fixed(perExtra / loneCpu, 2),
        note:
          `(${READERS + 1} viewers − lone) / ${READERS}, from the medians; ` +
          `${fixed(perExtraDelivered, 2)} ms per MB an extra viewer received`,
      },
    );
  }
  return rows;
}

function echoRows(builds: readonly Build[], echoes: ReadonlyMap<string, EchoSamples>): Row[] {
  const rows: Row[] = [];
  const metric = 'writer keystroke → echo in cat, p50';
  const spread = (s: Summary): string =>
    `p90 ${micros(s.p90)}, p99 ${micros(s.p99)}, max ${micros(s.max)}`;
  for (const build of builds) {
    const writer = (label: string): Summary =>
      summarize((echoes.get(subjectName(label, build))?.keys ?? []).map((k) => k.writer));
    const alone = writer(ECHO_ALONE);
    const mine = writer(ECHO_READERS);
    const paused = writer(ECHO_PAUSED);
    const last = summarize(
      (echoes.get(subjectName(ECHO_READERS, build))?.lastReader ?? []).filter((v) =>
        Number.isFinite(v),
      ),
    );
    const vsAlone = (s: Summary): Pick<Row, 'baseline' | 'ratio'> => ({
      baseline: `alone ${micros(alone.median)}`,
      ratio: fixed(s.median / alone.median, 2),
    });
    rows.push(
      {
        case: '9 fanout',
        metric,
        subject: subjectName('writer alone', build),
        value: micros(alone.median),
        spread: spread(alone),
        note: `${alone.n} keystrokes`,
      },
      {
        case: '9 fanout',
        metric,
        subject: subjectName(`writer, ${ECHO_READERS}`, build),
        value: micros(mine.median),
        ...vsAlone(mine),
        spread: spread(mine),
        target: 'p50 ≤ 1.1 × alone',
        pass: mine.median <= 1.1 * alone.median,
        note: `${mine.n} keystrokes; alone p99 ${micros(alone.p99)}`,
      },
      {
        case: '9 fanout',
        metric,
        subject: subjectName(`writer, ${ECHO_PAUSED}`, build),
        value: micros(paused.median),
        ...vsAlone(paused),
        spread: spread(paused),
        note: `${paused.n} keystrokes; the server sends to all 11, no reader process wakes: the server's share`,
      },
      {
        case: '9 fanout',
        metric: 'keystroke → echo at the last of the readers, p50',
        subject: subjectName(ECHO_READERS, build),
        value: micros(last.median),
        ...vsAlone(last),
        spread: spread(last),
        note: `${last.n} keystrokes; readers in another process (monotonic clock)`,
      },
    );
  }
  return rows;
}
