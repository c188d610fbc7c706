// Prints where a V8 CPU profile spent its time: the top functions by self and by total time.
// Usage: `node --import tsx bench/profile-summary.ts FILE.cpuprofile [--top N]`, on profiles from
// `npm run bench -- --profile`.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const where =
    url === ''
      ? ''
      : ` ${relative(process.cwd(), url.replace(/^file:\/\//, ''))}:${lineNumber + 1}`;
  return `${functionName === '' ? '(anonymous)' : functionName}${where}`;
}

function main(): void {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' } },
  });
  const top = Number(values.top);
  for (const file of positionals) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    const parent = new Map<number, number>();
    for (const node of profile.nodes) {
      for (const child of node.children ?? []) parent.set(child, node.id);
    }
    const self = new Map<string, number>();
    const total = new Map<string, number>();
    let all = 0;
    profile.samples.forEach((id, i) => {
      const micros = profile.timeDeltas[i] ?? 0;
      all += micros;
      const node = byId.get(id);
      if (node === undefined) return;
      const name = label(node);
      self.set(name, (self.get(name) ?? 0) + micros);
      // Each function once per sample on the stack, however deep it recurses.
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const frame = byId.get(at);
        if (frame === undefined) break;
        const frameName = label(frame);
        if (!seen.has(frameName)) {
          seen.add(frameName);
          total.set(frameName, (total.get(frameName) ?? 0) + micros);
        }
      }
    });
    const idle = self.get('(idle)') ?? 0;
    console.log(
      `${file}: ${(all / 1000).toFixed(0)} ms sampled, ${((all - idle) / 1000).toFixed(0)} ms busy`,
    );
    const print = (title: string, table: Map<string, number>): void => {
      console.log(`  ${title}:`);
      for (const [name, micros] of [...table]
        .filter(([name]) => name !== '(idle)' && name !== '(root)')
        .sort((a, b) => b[1] - a[1])
        .slice(0, top)) {
        const share = ((micros / Math.max(all - idle, 1)) * 100).toFixed(1).padStart(5);
        console.log(`    ${share}% ${(micros / 1000).toFixed(0).padStart(7)} ms  ${name}`);
      }
    };
    print('self time (share of busy)', self);
    print('total time (share of busy)', total);
  }
}

main();
