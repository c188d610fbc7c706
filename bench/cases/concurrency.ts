// Case 6: N sessions opened at once against the server; answers, time, memory and fds per session.
// N = 50, 200, 500, 1000, each session `bash -l` (empty HOME) answering `echo ready-$((i))` typed
// at once. Reported: answers, time to the last one, the server's RSS and descriptors per session
// (its process only: the shells' memory is theirs), event loop stalls, listen-queue drops, and
// the time to end them all. Baseline: the same N shells spawned by node-pty in this process.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { roundsFor, sleep, subjectName, type BenchCase } from '../lib/context.js';
import { RawLink, WsLink, type Link } from '../lib/links.js';
import type { Row } from '../lib/report.js';
import { ServerProcess, type Build } from '../lib/server-process.js';
import { fixed, kib, median, millis, range } from '../lib/stats.js';

const LEVELS = [50, 200, 500, 1000];
const QUICK_LEVELS = [20, 50];
/** A session that has not answered by then counts as failed. */
const ANSWER_TIMEOUT_MS = 60_000;
/**
 * Once the case has run this long, further rounds and levels are skipped (and say so): on an
 * overloaded machine a burst of 1000 shells can take minutes, and the whole bench should not.
 */
const BUDGET_MS = 300_000;

/** TcpExt ListenOverflows + ListenDrops of this network namespace (other users count too). */
function listenDrops(): number {
  try {
    const lines = readFileSync('/proc/net/netstat', 'latin1').split('\n');
    const header = lines.find((line) => line.startsWith('TcpExt:'))?.split(' ') ?? [];
    const values = lines.filter((line) => line.startsWith('TcpExt:'))[1]?.split(' ') ?? [];
    return Number(values[header.indexOf('ListenDrops')] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
}

interface Burst {
  readonly answered: number;
  readonly lastMs: number;
  readonly medianMs: number;
  readonly failures: readonly string[];
}

/** Opens `links` (already started), waits for each one's answer, and times them from `start`. */
async function answers(links: readonly Link[], start: number): Promise<Burst> {
  const failures: string[] = [];
  const times: number[] = [];
  await Promise.all(
    links.map(async (link, i) => {
      try {
        const answered = link.expect(`ready-${i}\r\n`, ANSWER_TIMEOUT_MS);
        const ended = link.ended.then(() => {
          const ws =
            link instanceof WsLink
              ? ` ${link.closeCode} ${link.errorCode ?? link.closeReason}`
              : '';
          throw new Error(`ended before answering:${ws}`);
        });
        times.push((await Promise.race([answered, ended])) - start);
      } catch (error) {
        failures.push((error as Error).message.slice(0, 120));
      }
    }),
  );
  return {
    answered: times.length,
    lastMs: Math.max(...times),
    medianMs: median(times),
    failures,
  };
}

function summarizeFailures(failures: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const failure of failures) {
    const key = failure.replace(/ready-\d+/, 'ready-N').replace(/last output .*/, '');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([text, count]) => `${count}× ${text}`).join('; ');
}

interface ServerBurst extends Burst {
  readonly rssPerSession: number;
  readonly fdsPerSession: number;
  readonly loopDelayMaxMs: number;
  readonly listenDrops: number;
  readonly teardownMs: number;
}

async function serverBurst(server: ServerProcess, n: number): Promise<ServerBurst> {
  await server.gc();
  await sleep(200);
  const rssBefore = server.rss();
  const fdsBefore = server.fds();
  const dropsBefore = listenDrops();
  await server.resetLoop();
  const start = performance.now();
  const links: WsLink[] = [];
  for (let i = 0; i < n; i += 1) {
    links.push(
      new WsLink({
        url: server.url,
        kind: 'v1',
        credential: server.token,
        earlyInput: `echo ready-$((${i}))\r`,
      }),
    );
  }
  const burst = await answers(links, start);
  const stats = await server.stats();
  await server.gc();
  await sleep(200);
  const rssOpen = server.rss();
  const fdsOpen = server.fds();
  const drops = listenDrops() - dropsBefore;
  const closing = performance.now();
  await Promise.all(links.map((link) => link.close()));
  await server.waitIdle(120_000);
  const teardownMs = performance.now() - closing;
  const open = Math.max(burst.answered, 1);
  return {
    ...burst,
    rssPerSession: (rssOpen - rssBefore) / open,
    fdsPerSession: (fdsOpen - fdsBefore) / open,
    loopDelayMaxMs: stats.loopDelayMaxMs,
    listenDrops: drops,
    teardownMs,
  };
}

async function rawBurst(
  n: number,
  env: Record<string, string>,
): Promise<Burst & { teardownMs: number }> {
  const start = performance.now();
  const links: RawLink[] = [];
  for (let i = 0; i < n; i += 1) {
    const link = new RawLink({ command: ['/bin/bash', '-l'], env });
    link.send(`echo ready-$((${i}))\r`);
    links.push(link);
  }
  const burst = await answers(links, start);
  const closing = performance.now();
  await Promise.all(links.map((link) => link.close()));
  return { ...burst, teardownMs: performance.now() - closing };
}

export const concurrency: BenchCase = {
  name: 'concurrency',
  title: '6. Concurrency: N sessions opened at once',
  async run(context) {
    const levels = context.sessions ?? (context.quick ? QUICK_LEVELS : LEVELS);
    const topRounds = roundsFor(context, 2, 1);
    const caseStart = performance.now();
    const overBudget = (): boolean => performance.now() - caseStart > BUDGET_MS;
    const env = { HOME: context.emptyHome };
    const rows: Row[] = [];
    const servers = new Map<Build, ServerProcess>();
    try {
      for (const build of context.builds) {
        const server = await ServerProcess.start({
          build,
          options: { userShellCommand: ['/bin/bash', '-l'], env, maxConnections: 1024 },
        });
        servers.set(build, server);
        await serverBurst(server, 10); // warm-up: code loaded, compiled
      }
      for (const n of levels) {
        const rounds = n === levels.at(-1) ? topRounds : 1;
        const raw: Array<Burst & { teardownMs: number }> = [];
        const measured = new Map<Build, ServerBurst[]>();
        if (overBudget()) {
          rows.push({
            case: '6 concurrency',
            metric: `N=${n}: answered; time to last answer`,
            subject: 'skipped',
            value: '–',
            note: `the case ran over its ${BUDGET_MS / 1000} s budget (machine load ${loadavg()[0]?.toFixed(1)})`,
          });
          continue;
        }
        for (let round = 0; round < rounds && !(round > 0 && overBudget()); round += 1) {
          // Alternate who goes first: A B, B A …
          const order: Array<Build | 'raw'> = ['raw', ...context.builds];
          if (round % 2 === 1) order.reverse();
          for (const who of order) {
            if (who === 'raw') {
              const burst = await rawBurst(n, env);
              raw.push(burst);
              context.log(
                `  raw node-pty N=${n}: ${burst.answered}/${n} in ${millis(burst.lastMs, 0)}, teardown ${millis(burst.teardownMs, 0)}`,
              );
            } else {
              let burst: ServerBurst;
              try {
                burst = await serverBurst(servers.get(who) as ServerProcess, n);
              } catch (error) {
                context.log(`  server${who.label} N=${n}: ${(error as Error).message}`);
                rows.push({
                  case: '6 concurrency',
                  metric: `N=${n}: answered; time to last answer`,
                  subject: subjectName('v1 server', who),
                  value: 'failed',
                  note: (error as Error).message,
                });
                continue;
              }
              measured.set(who, [...(measured.get(who) ?? []), burst]);
              context.log(
                `  server${who.label} N=${n}: ${burst.answered}/${n} in ${millis(burst.lastMs, 0)}, ` +
                  `${kib(burst.rssPerSession)}/session, ${fixed(burst.fdsPerSession, 1)} fds/session, ` +
                  `loop stalled up to ${millis(burst.loopDelayMaxMs, 0)}, listen drops ${burst.listenDrops}, ` +
                  `teardown ${millis(burst.teardownMs, 0)}` +
                  (burst.failures.length > 0
                    ? `; failures: ${summarizeFailures(burst.failures)}`
                    : ''),
              );
            }
          }
        }
        const rawLast = median(raw.map((b) => b.lastMs));
        rows.push({
          case: '6 concurrency',
          metric: `N=${n}: answered; time to last answer`,
          subject: 'raw node-pty',
          value: `${raw.map((b) => b.answered).join(', ')}/${n}; ${millis(rawLast, 0)}`,
          spread: `${range(
            raw.map((b) => b.lastMs),
            0,
          )} ms`,
          note: `${rounds} run(s); median answer ${millis(median(raw.map((b) => b.medianMs)), 0)}; teardown ${millis(median(raw.map((b) => b.teardownMs)), 0)}`,
        });
        for (const [build, bursts] of measured) {
          const last = median(bursts.map((b) => b.lastMs));
          const perSession = median(bursts.map((b) => b.rssPerSession));
          const all = bursts.every((b) => b.answered === n);
          const failures = bursts.flatMap((b) => b.failures);
          rows.push({
            case: '6 concurrency',
            metric: `N=${n}: answered; time to last answer`,
            subject: subjectName('v1 server', build),
            value: `${bursts.map((b) => b.answered).join(', ')}/${n}; ${millis(last, 0)}`,
            baseline: `raw ${millis(rawLast, 0)}`,
            ratio: fixed(last / rawLast, 2),
            spread: `${range(
              bursts.map((b) => b.lastMs),
              0,
            )} ms`,
            ...(n === 1000
              ? {
                  target: `${n}/${n}, ≤ 5.5 s, ≤ 64 KiB/session`,
                  pass: all && last <= 5500 && perSession <= 64 * 1024,
                }
              : {}),
            note:
              `RSS ${kib(perSession)}/session, ${fixed(median(bursts.map((b) => b.fdsPerSession)), 1)} fds/session; ` +
              `median answer ${millis(median(bursts.map((b) => b.medianMs)), 0)}; ` +
              `loop stall max ${millis(median(bursts.map((b) => b.loopDelayMaxMs)), 0)}; ` +
              `listen drops ${bursts.map((b) => b.listenDrops).join(', ')}; ` +
              `teardown ${millis(median(bursts.map((b) => b.teardownMs)), 0)}` +
              (failures.length > 0 ? `; failures: ${summarizeFailures(failures)}` : ''),
          });
        }
      }
    } finally {
      for (const server of servers.values()) {
        await server.close();
      }
    }
    return rows;
  },
};
