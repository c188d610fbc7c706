// What the numbers were measured on: CPU model, cores, RAM, kernel, Node, load, and the date.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly ramGiB: number;
  readonly kernel: string;
  readonly node: string;
  readonly chromium: string;
  readonly bash: string;
  readonly loadAverage: string;
  /** Share of time runnable tasks waited for a CPU (PSI, /proc/pressure/cpu "some" avg60). */
  readonly cpuPressure: string;
  readonly date: string;
}

/** PSI: how much of the last minute tasks spent waiting for a CPU; high on a shared machine. */
export function cpuPressure(): string {
  try {
    const text = readFileSync('/proc/pressure/cpu', 'utf8');
    const avg60 = /^some .*avg60=([\d.]+)/m.exec(text)?.[1];
    return avg60 === undefined ? 'unknown' : `${avg60}%`;
  } catch {
    return 'unknown';
  }
}

function cpuModel(): string {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    return /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  } catch {
    return cpus()[0]?.model ?? 'unknown';
  }
}

function versionOf(file: string, args: string[]): string {
  try {
    return (
      execFileSync(file, args, { encoding: 'utf8', timeout: 10_000 }).split('\n')[0]?.trim() ?? ''
    );
  } catch {
    return 'not found';
  }
}

export function describeMachine(): Machine {
  return {
    cpu: cpuModel(),
    cores: cpus().length,
    ramGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: release(),
    node: process.version,
    chromium: versionOf('/usr/bin/chromium', ['--version']),
    bash: versionOf('/bin/bash', ['--version']),
    loadAverage: loadavg()
      .map((value) => value.toFixed(2))
      .join(' '),
    cpuPressure: cpuPressure(),
    date: new Date().toISOString(),
  };
}

export function formatMachine(machine: Machine): string {
  return [
    `CPU: ${machine.cpu}, ${machine.cores} cores; RAM ${machine.ramGiB} GiB; kernel ${machine.kernel}`,
    `Node ${machine.node}; ${machine.chromium}; ${machine.bash}`,
    `at start: load average ${machine.loadAverage}, CPU pressure (PSI some avg60) ${machine.cpuPressure}; date ${machine.date}`,
  ].join('\n');
}
