// The `npm run bench` entry: runs the cases and prints medians beside same-run baselines.
// Usage: `npm run bench [-- CASE... --rounds N --quick --baseline DIR --markdown FILE --profile]`.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bulk } from './cases/bulk.js';
import { concurrency } from './cases/concurrency.js';
import { connect } from './cases/connect.js';
import { ctrlC } from './cases/ctrl-c.js';
import { echo } from './cases/echo.js';
import { fanout } from './cases/fanout.js';
import { memory } from './cases/memory.js';
import { page } from './cases/page.js';
import { resume } from './cases/resume.js';
import { throughput } from './cases/throughput.js';
import type { BenchCase, BenchContext } from './lib/context.js';
import { cpuPressure, describeMachine, formatMachine } from './lib/machine.js';
import { formatMarkdown, formatText, type Row } from './lib/report.js';
import { setServerNodeFlags, type Build } from './lib/server-process.js';

const CASES: readonly BenchCase[] = [
  throughput,
  echo,
  connect,
  ctrlC,
  memory,
  concurrency,
  resume,
  page,
  fanout,
  bulk,
];

const USAGE = `usage: npm run bench -- [CASE...] [options]
cases: ${CASES.map((c) => c.name).join(', ')} (default: all)
  --rounds N        rounds per subject (default: each case's own)
  --quick           fewer rounds, smaller inputs: a smoke run, not a result
  --sessions LIST   concurrency levels, e.g. 50,200 (default 50,200,500,1000)
  --baseline DIR    also measure the built checkout in DIR (A/B in one run, interleaved)
  --label NAME      how the table names the --baseline build (default: base)
  --markdown FILE   also write the table and the machine as Markdown
  --json FILE       also write the rows as JSON
  --profile         run server children with --cpu-prof (profiles in .bench/prof/)`;

const ROOT = fileURLToPath(new URL('../', import.meta.url));

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: {
      rounds: { type: 'string' },
      quick: { type: 'boolean', default: false },
      sessions: { type: 'string' },
      baseline: { type: 'string' },
      label: { type: 'string', default: 'base' },
      markdown: { type: 'string' },
      json: { type: 'string' },
      profile: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const unknown = positionals.filter((name) => !CASES.some((c) => c.name === name));
  if (unknown.length > 0) {
    console.error(`unknown case: ${unknown.join(', ')}\n${USAGE}`);
    return 2;
  }
  const rounds = values.rounds === undefined ? undefined : Number(values.rounds);
  if (rounds !== undefined && !(Number.isInteger(rounds) && rounds > 0)) {
    console.error(`--rounds must be a positive whole number, got ${values.rounds}\n${USAGE}`);
    return 2;
  }
  const sessions = values.sessions?.split(',').map(Number);
  if (sessions !== undefined && !sessions.every((n) => Number.isInteger(n) && n > 0)) {
    console.error(`--sessions must be positive whole numbers, got ${values.sessions}\n${USAGE}`);
    return 2;
  }
  const builds: Build[] = [{ label: '', root: ROOT }];
  if (values.baseline !== undefined) {
    builds.push({ label: ` @${values.label}`, root: resolve(values.baseline) });
  }
  const dataDir = join(ROOT, '.bench');
  mkdirSync(dataDir, { recursive: true });
  if (values.profile) {
    const dir = join(dataDir, 'prof');
    mkdirSync(dir, { recursive: true });
    setServerNodeFlags(['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  }
  const emptyHome = mkdtempSync(join(tmpdir(), 'xjs-bench-home-'));
  // However this process ends, the temporary HOME goes; server children see their IPC channel
  // close and end their shells themselves.
  process.once('exit', () => rmSync(emptyHome, { recursive: true, force: true }));
  process.once('SIGINT', () => process.exit(130));
  const context: BenchContext = {
    builds,
    rounds,
    sessions,
    quick: values.quick,
    dataDir,
    emptyHome,
    log: (message) => process.stderr.write(`${message}\n`),
  };
  const selected =
    positionals.length === 0 ? CASES : CASES.filter((c) => positionals.includes(c.name));
  const machine = describeMachine();
  context.log(`Node ${machine.node} (${process.execPath}); the servers run on it too`);
  const started = performance.now();
  const rows: Row[] = [];
  const failures: string[] = [];
  try {
    for (const benchCase of selected) {
      context.log(
        `\n== ${benchCase.title} (load average ${loadavg()
          .map((v) => v.toFixed(1))
          .join(' ')})`,
      );
      try {
        rows.push(...(await benchCase.run(context)));
      } catch (error) {
        const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
        failures.push(`${benchCase.name}: ${message}`);
        context.log(`case ${benchCase.name} failed: ${message}`);
      }
    }
  } finally {
    rmSync(emptyHome, { recursive: true, force: true });
  }
  const minutes = (performance.now() - started) / 60_000;
  const loadAtEnd = loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
  const header = `${formatMachine(machine)}\nat end: load average ${loadAtEnd}, CPU pressure ${cpuPressure()}; bench time: ${minutes.toFixed(1)} min${
    values.quick ? ' (--quick: not a result)' : ''
  }`;
  console.log(`\n${header}\n\n${formatText(rows)}`);
  if (failures.length > 0) {
    console.log(`\nfailed cases:\n${failures.join('\n')}`);
  }
  if (values.markdown !== undefined) {
    writeFileSync(
      values.markdown,
      `${header
        .split('\n')
        .map((line) => `- ${line}`)
        .join('\n')}\n\n${formatMarkdown(rows)}\n`,
    );
  }
  if (values.json !== undefined) {
    writeFileSync(values.json, `${JSON.stringify({ machine, rows, failures }, null, 2)}\n`);
  }
  return failures.length > 0 ? 1 : 0;
}

process.exitCode = await main();
