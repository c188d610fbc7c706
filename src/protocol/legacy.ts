/**
 * The original wire format (no subprotocol), byte for byte: UTF-8 text frames both ways, a
 * client frame that is exactly `ESC [ 8 ; ROWS ; COLS t` resizes the terminal, and errors go
 * out as text frames starting with `Error: `.
 * @module
 */

// eslint-disable-next-line no-control-regex -- ESC is the point of the pattern
const RESIZE_PATTERN = /^\x1b\[8;(\d{1,5});(\d{1,5})t$/;

export interface LegacyResize {
  readonly rows: number;
  readonly cols: number;
}

/** Returns the size when `text` is exactly a resize sequence, otherwise null (it is input). */
export function parseLegacyResize(text: string): LegacyResize | null {
  // Only a frame that starts with ESC [ 8 ; can be a resize: keep the common case cheap.
  if (text.length > 16 || !text.startsWith('\x1b[8;')) {
    return null;
  }
  const match = RESIZE_PATTERN.exec(text);
  if (match === null) {
    return null;
  }
  return { rows: Number(match[1]), cols: Number(match[2]) };
}

export function encodeLegacyResize(rows: number, cols: number): string {
  return `\x1b[8;${rows};${cols}t`;
}

/** The text frame the original handler sends when something fails (`Error: Bad credentials`). */
export function legacyErrorText(reason: string): string {
  return `Error: ${reason}`;
}
