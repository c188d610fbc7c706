// The result table: rows beside their same-run baselines, as text and as Markdown.

export interface Row {
  /** The case, e.g. `1 throughput`. */
  readonly case: string;
  /** What is measured, e.g. `MB/s, first to last byte`. */
  readonly metric: string;
  /** Who is measured, e.g. `v1`, `legacy`, `v1 (Chromium)`. */
  readonly subject: string;
  /** The median (or the value), formatted. */
  readonly value: string;
  /** The baseline measured in the same run, formatted, with its name. */
  readonly baseline?: string;
  /** subject / baseline, formatted. */
  readonly ratio?: string;
  /** Spread of the subject: min–max, or p90/p99. */
  readonly spread?: string;
  readonly target?: string;
  /** Whether the target is met; undefined when there is no target. */
  readonly pass?: boolean;
  readonly note?: string;
}

const COLUMNS: ReadonlyArray<[keyof Row, string]> = [
  ['case', 'case'],
  ['metric', 'metric'],
  ['subject', 'subject'],
  ['value', 'median'],
  ['baseline', 'baseline (same run)'],
  ['ratio', 'ratio'],
  ['spread', 'spread'],
  ['target', 'target'],
  ['pass', 'met'],
  ['note', 'note'],
];

function cell(row: Row, key: keyof Row): string {
  const value = row[key];
  if (key === 'pass') {
    return value === undefined ? '' : value === true ? 'yes' : 'NO';
  }
  return value === undefined ? '' : String(value);
}

/** A plain-text table sized to its content (the note column last, unpadded). */
export function formatText(rows: readonly Row[]): string {
  const widths = COLUMNS.map(([key, title]) =>
    Math.max(title.length, ...rows.map((row) => cell(row, key).length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((text, i) => (i === cells.length - 1 ? text : text.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [
    line(COLUMNS.map(([, title]) => title)),
    line(widths.map((width) => '-'.repeat(width))),
    ...rows.map((row) => line(COLUMNS.map(([key]) => cell(row, key)))),
  ].join('\n');
}

export function formatMarkdown(rows: readonly Row[]): string {
  const escape = (text: string): string => text.replaceAll('|', '\\|');
  return [
    `| ${COLUMNS.map(([, title]) => title).join(' | ')} |`,
    `| ${COLUMNS.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${COLUMNS.map(([key]) => escape(cell(row, key))).join(' | ')} |`),
  ].join('\n');
}
