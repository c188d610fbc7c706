// Holds docs/errors.md and the ERRORS catalog equal in both directions, and the catalog sound.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ERRORS, errorForCloseCode, type ErrorCode } from './errors.js';

interface DocumentedError {
  readonly code: string;
  readonly closeCode: number;
  readonly reason: string;
}

/** The rows of the catalog table in docs/errors.md: `| \`XJS_ERR_…\` | 4001 | reason | when |`. */
function documentedErrors(): DocumentedError[] {
  const text = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const rows: DocumentedError[] = [];
  for (const line of text.split('\n')) {
    const match = /^\|\s*`(XJS_ERR_[A-Z_]+)`\s*\|\s*(\d+)\s*\|\s*([^|]+?)\s*\|/.exec(line);
    if (match !== null) {
      rows.push({ code: match[1] ?? '', closeCode: Number(match[2]), reason: match[3] ?? '' });
    } else if (/^\|[^|]*XJS_ERR_/.test(line)) {
      // A row this parser cannot read would otherwise drop out of the check unnoticed.
      throw new Error(`docs/errors.md: cannot read the table row ${JSON.stringify(line)}`);
    }
  }
  return rows;
}

const catalog: DocumentedError[] = Object.entries(ERRORS).map(([code, info]) => ({
  code,
  closeCode: info.closeCode,
  reason: info.reason,
}));

/** Codes RFC 6455 defines that a server may send: going away, message too big. */
const STANDARD_CLOSE_CODES = new Set([1001, 1009]);

describe('the error catalog', () => {
  const documented = documentedErrors();

  it('is documented in docs/errors.md (the table was found)', () => {
    assert.ok(documented.length > 0, 'no XJS_ERR_ rows found in docs/errors.md');
  });

  it('documents every catalog entry with its close code and reason', () => {
    for (const entry of catalog) {
      const row = documented.find((candidate) => candidate.code === entry.code);
      assert.ok(row !== undefined, `${entry.code} is missing from docs/errors.md`);
      assert.deepEqual(row, entry, `docs/errors.md disagrees with errors.ts on ${entry.code}`);
    }
  });

  it('has an entry for every code docs/errors.md lists, with the same close code and reason', () => {
    for (const row of documented) {
      assert.ok(row.code in ERRORS, `docs/errors.md lists ${row.code}, which errors.ts lacks`);
      const info = ERRORS[row.code as ErrorCode];
      assert.deepEqual(
        { code: row.code, closeCode: info.closeCode, reason: info.reason },
        row,
        `errors.ts disagrees with docs/errors.md on ${row.code}`,
      );
    }
  });

  it('lists each code once in docs/errors.md', () => {
    const codes = documented.map((row) => row.code);
    assert.deepEqual(
      codes.filter((code, index) => codes.indexOf(code) !== index),
      [],
      'duplicate rows in docs/errors.md',
    );
  });

  it('uses application close codes (4000-4999) or standard ones a server may send', () => {
    for (const { code, closeCode } of catalog) {
      assert.ok(
        (closeCode >= 4000 && closeCode <= 4999) || STANDARD_CLOSE_CODES.has(closeCode),
        `${code} uses close code ${closeCode}`,
      );
    }
  });

  it('gives every code its own close code, so a client can tell them apart', () => {
    const closeCodes = catalog.map((entry) => entry.closeCode);
    assert.deepEqual(
      closeCodes.filter((closeCode, index) => closeCodes.indexOf(closeCode) !== index),
      [],
      'close codes used twice',
    );
  });

  it('gives every code a distinct reason', () => {
    const reasons = catalog.map((entry) => entry.reason);
    assert.deepEqual(
      reasons.filter((reason, index) => reasons.indexOf(reason) !== index),
      [],
      'reasons used twice',
    );
  });

  it('has reasons that fit a close frame (123 bytes of UTF-8) and are not empty', () => {
    const encoder = new TextEncoder();
    for (const { code, reason } of catalog) {
      const length = encoder.encode(reason).length;
      assert.ok(length > 0 && length <= 123, `${code}: reason is ${length} bytes`);
    }
  });

  it('finds the code of every close code a client receives, and none for others', () => {
    for (const { code, closeCode } of catalog) {
      assert.equal(errorForCloseCode(closeCode), code);
    }
    for (const closeCode of [1000, 1006, 4000, 4999]) {
      assert.equal(errorForCloseCode(closeCode), undefined, `close code ${closeCode}`);
    }
  });
});
