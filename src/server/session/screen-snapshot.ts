/**
 * The terminal state of one session: a headless xterm.js fed every output byte in order, and
 * its snapshot, the text that makes a fresh terminal of the page show the same screen and modes.
 * Runs in the screen-state worker (and in unit tests). See docs/screen-state.md.
 * @module
 */
import headless from '@xterm/headless';
import serializeAddon from '@xterm/addon-serialize';
import unicode11Addon from '@xterm/addon-unicode11';

type HeadlessTerminal = InstanceType<typeof headless.Terminal>;

/** xterm.js grows a per-terminal parse buffer to its largest write and never shrinks it. */
const WRITE_SLICE_BYTES = 4096;
const ESC = 0x1b;
/** Lead byte of the UTF-8 form of the C1 controls (U+0080–U+009F), which can open a sequence. */
const C1_LEAD = 0xc2;
/** A sequence longer than this is not gone back over: the snapshot is taken where it is. */
export const MAX_SEQUENCE_BYTES = 64 * 1024;

/** What a page writes into a reset terminal of `cols` × `rows`, then OUTPUT from `offset`. */
export interface TerminalSnapshot {
  /** The offset of the first output byte the page needs after the snapshot. */
  readonly offset: number;
  readonly cols: number;
  readonly rows: number;
  readonly data: string;
  /** Taken inside an escape sequence it could not go back over: its rest shows as text. */
  readonly dirty: boolean;
}

interface BufferInternals {
  readonly x: number;
  readonly y: number;
  readonly ybase: number;
  readonly scrollTop: number;
  readonly scrollBottom: number;
  /** Where DECSC (or entering the alternate screen) saved the cursor; y counts from the top. */
  readonly savedX: number;
  readonly savedY: number;
  readonly savedCharset: Charset | undefined;
  readonly savedCurAttrData: Attributes;
}

/** xterm's packed cell attributes: colour mode, colour and flags in two numbers. */
interface Attributes {
  readonly fg: number;
  readonly bg: number;
}

/** A character set as xterm keeps it: a map of replaced characters; undefined is ASCII. */
type Charset = Readonly<Record<string, string>>;

/** The internals read here; pinned versions, checked by screen-snapshot.test.ts. */
interface Internals {
  readonly _inputHandler: {
    readonly _curAttrData: Attributes;
    readonly _parser: { readonly currentState: number };
    readonly _utf8Decoder: { readonly interim: Uint8Array };
  };
  readonly coreService: {
    readonly isCursorHidden: boolean;
    readonly decPrivateModes: {
      readonly cursorStyle: 'block' | 'underline' | 'bar' | undefined;
      readonly cursorBlink: boolean | undefined;
      readonly origin: boolean;
    };
  };
  readonly coreMouseService: { readonly activeEncoding: string };
  readonly _bufferService: {
    readonly rows: number;
    readonly buffer: BufferInternals;
    readonly buffers: { readonly normal: BufferInternals; readonly alt: BufferInternals };
  };
  readonly _charsetService: {
    readonly glevel: number;
    readonly _charsets: ReadonlyArray<Charset | undefined>;
  };
}

const PARSER_GROUND = 0;
const CURSOR_STYLES = { block: 1, underline: 3, bar: 5 } as const;
const MOUSE_ENCODINGS: Record<string, string> = { SGR: '\x1b[?1006h', SGR_PIXELS: '\x1b[?1016h' };

export interface ScreenTerminalOptions {
  readonly cols: number;
  readonly rows: number;
  /** Lines of the normal screen's scrollback kept and sent. */
  readonly scrollbackLines: number;
  /** The window title changed (OSC 0 or 2). */
  readonly onTitle?: (title: string) => void;
  /** Bytes up to `offset` are parsed. */
  readonly onParsed?: (offset: number) => void;
}

export class ScreenTerminal {
  private readonly _term: HeadlessTerminal;
  private readonly _serialize: InstanceType<typeof serializeAddon.SerializeAddon>;
  private readonly _scrollbackLines: number;
  private readonly _onParsed: ((offset: number) => void) | undefined;
  /** Bytes given to the terminal so far: the session's offset, as the records arrive. */
  private _written = 0;
  private _lastEsc = -1;
  private _lastC1Lead = -1;
  private _title = '';

  constructor(options: ScreenTerminalOptions) {
    this._term = new headless.Terminal({
      cols: options.cols,
      rows: options.rows,
      scrollback: options.scrollbackLines,
      allowProposedApi: true, // the unicode11 addon sets unicode.activeVersion
      logLevel: 'off',
    });
    this._term.loadAddon(new unicode11Addon.Unicode11Addon());
    this._term.unicode.activeVersion = '11'; // as the page's, or wide characters land elsewhere
    this._serialize = new serializeAddon.SerializeAddon();
    this._term.loadAddon(this._serialize);
    this._scrollbackLines = options.scrollbackLines;
    this._onParsed = options.onParsed;
    // Answers to queries (DA, DSR, DECRQSS…) go to onData, which nothing here listens to.
    this._term.onTitleChange((title) => {
      this._title = title;
      options.onTitle?.(title);
    });
  }

  get written(): number {
    return this._written;
  }

  get title(): string {
    return this._title;
  }

  /** The next output bytes, in order. */
  write(data: Uint8Array): void {
    const start = this._written;
    const esc = data.lastIndexOf(ESC);
    if (esc >= 0) this._lastEsc = start + esc;
    const c1 = data.lastIndexOf(C1_LEAD);
    if (c1 >= 0) this._lastC1Lead = start + c1;
    this._written += data.length;
    const end = this._written;
    for (let at = 0; at < data.length; at += WRITE_SLICE_BYTES) {
      const last = at + WRITE_SLICE_BYTES >= data.length;
      this._term.write(
        data.subarray(at, at + WRITE_SLICE_BYTES),
        last ? () => this._onParsed?.(end) : undefined,
      );
    }
  }

  /** The pty was resized here, after the bytes written so far. */
  resize(cols: number, rows: number): void {
    this._afterPending(() => this._term.resize(cols, rows));
  }

  /** The state after every byte written so far, once they are parsed. */
  snapshot(): Promise<TerminalSnapshot> {
    const requested = this._written;
    const lastEsc = this._lastEsc;
    const lastC1Lead = this._lastC1Lead;
    return new Promise((resolve, reject) => {
      this._afterPending(() => {
        try {
          resolve(this._take(requested, lastEsc, lastC1Lead));
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
  }

  /** Frees the terminal once what was written is parsed. */
  dispose(): void {
    this._afterPending(() => this._term.dispose());
  }

  /** Runs `action` in order with the writes: after every byte written so far is parsed. */
  private _afterPending(action: () => void): void {
    this._term.write(new Uint8Array(0), action);
  }

  private _take(requested: number, lastEsc: number, lastC1Lead: number): TerminalSnapshot {
    const core = (this._term as unknown as { _core: Internals })._core;
    const { offset, dirty } = cleanOffset(core, requested, lastEsc, lastC1Lead);
    const title = this._title === '' ? '' : `\x1b]2;${this._title}\x07`;
    // serialize 0.14 writes moves by 0 (`CSI 0 C`) when it redraws a wrapped empty row, and
    // every terminal moves 1 for a 0: the row keeps one filler `-`. Moves by 0 are dropped.
    const serialized = this._serialize
      .serialize({ scrollback: this._scrollbackLines })
      .replace(ZERO_MOVES, '');
    const data = withSavedCursor(serialized, core) + extras(core);
    return { offset, cols: this._term.cols, rows: this._term.rows, data: data + title, dirty };
  }
}

/**
 * Where the page's OUTPUT must start for the snapshot to be exact. Mid-sequence the screen is
 * as it was before the sequence's first byte (CSI, OSC, DCS act on their last byte), so the page
 * gets the sequence whole; mid-character, the character's first byte.
 */
function cleanOffset(
  core: Internals,
  requested: number,
  lastEsc: number,
  lastC1Lead: number,
): { offset: number; dirty: boolean } {
  const pendingUtf8 = core._inputHandler._utf8Decoder.interim.filter((byte) => byte !== 0).length;
  if (core._inputHandler._parser.currentState === PARSER_GROUND) {
    return { offset: requested - pendingUtf8, dirty: false };
  }
  // Opened by the last ESC, unless a C1 control (U+0080–U+009F) came after it and opened it.
  const opened = lastEsc >= 0 && lastC1Lead < lastEsc && requested - lastEsc <= MAX_SEQUENCE_BYTES;
  return opened ? { offset: lastEsc, dirty: false } : { offset: requested, dirty: true };
}

/** Cursor moves by 0 cells; cell text never holds an ESC, so these are serialize's own. */
// eslint-disable-next-line no-control-regex -- ESC is the point of the pattern
const ZERO_MOVES = /\x1b\[0[ABCD]/g;
const ALTERNATE_SCREEN = '\x1b[?1049h\x1b[H';

/**
 * Leaving the alternate screen puts the cursor back where entering it saved it: serialize
 * enters it wherever the normal screen's text ended, so the cursor goes to the saved place
 * first (serialize writes no 1049 of its own before the alternate screen's, see its source).
 */
function withSavedCursor(serialized: string, core: Internals): string {
  const at = serialized.indexOf(ALTERNATE_SCREEN);
  if (at < 0) {
    return serialized;
  }
  const normal = core._bufferService.buffers.normal;
  const row = Math.max(normal.savedY - normal.ybase, 0);
  const before =
    region(normal, core._bufferService.rows) +
    `\x1b[${row + 1};${normal.savedX + 1}H${designate('(', normal.savedCharset)}` +
    sgr(normal.savedCurAttrData);
  const after = at + ALTERNATE_SCREEN.length;
  // The alternate screen's text is drawn from plain ASCII: its cells hold the final characters.
  const reset = '\x1b(B\x1b[0m';
  return `${serialized.slice(0, at)}${before}${serialized.slice(at, after)}${reset}${serialized.slice(after)}`;
}

const COLOUR_MODE = 0x3000000;
const PALETTE_16 = 0x1000000;
const PALETTE_256 = 0x2000000;
const RGB = 0x3000000;
/** SGR numbers of xterm's attribute flags: [in fg or bg, bit, SGR]. */
const FLAG_SGR: ReadonlyArray<readonly ['fg' | 'bg', number, number]> = [
  ['fg', 0x8000000, 1], // bold
  ['bg', 0x8000000, 2], // dim
  ['bg', 0x4000000, 3], // italic
  ['fg', 0x10000000, 4], // underline
  ['fg', 0x20000000, 5], // blink
  ['fg', 0x4000000, 7], // inverse
  ['fg', 0x40000000, 8], // invisible
  ['fg', 0x80000000, 9], // strikethrough
  ['bg', 0x40000000, 53], // overline
];

/** SGR that sets exactly `attributes` (underline styles and colours are a gap, see the docs). */
function sgr(attributes: Attributes): string {
  const codes = ['0'];
  for (const [field, bit, code] of FLAG_SGR) {
    if ((attributes[field] & bit) !== 0) codes.push(String(code));
  }
  for (const [value, base] of [
    [attributes.fg, 30],
    [attributes.bg, 40],
  ] as const) {
    const colour = value & 0xffffff;
    switch (value & COLOUR_MODE) {
      case PALETTE_16:
        codes.push(String(colour < 8 ? base + colour : base + 60 + colour - 8));
        break;
      case PALETTE_256:
        codes.push(`${base + 8};5;${colour & 0xff}`);
        break;
      case RGB:
        codes.push(
          `${base + 8};2;${(colour >> 16) & 0xff};${(colour >> 8) & 0xff};${colour & 0xff}`,
        );
        break;
    }
  }
  return `\x1b[${codes.join(';')}m`;
}

/** DECSTBM for `buffer`'s scroll region, or nothing for the whole screen. */
function region(buffer: BufferInternals, rows: number): string {
  return buffer.scrollTop === 0 && buffer.scrollBottom === rows - 1
    ? ''
    : `\x1b[${buffer.scrollTop + 1};${buffer.scrollBottom + 1}r`;
}

/** ESC ( or ESC ) with DEC line drawing or ASCII: the two sets programs switch between. */
function designate(slot: '(' | ')', charset: Charset | undefined): string {
  return `\x1b${slot}${charset?.q === '─' ? '0' : 'B'}`;
}

/** What serialize leaves out and a page needs (docs/screen-state.md, the table of gaps). */
function extras(core: Internals): string {
  let text = '';
  const { decPrivateModes } = core.coreService;
  const current = core._inputHandler._curAttrData;
  const { rows, buffer } = core._bufferService;
  const { normal, alt } = core._bufferService.buffers;
  if (buffer === normal && (alt.savedX !== 0 || alt.savedY !== 0 || region(alt, rows) !== '')) {
    // The alternate screen keeps a scroll region and a DECSC of its own for the next time it
    // is used: set there through 47, which switches screens and saves nothing itself.
    const saved = Math.max(alt.savedY - alt.ybase, 0);
    text += `\x1b[?47h${region(alt, rows)}\x1b[${saved + 1};${alt.savedX + 1}H`;
    text += `${designate('(', alt.savedCharset)}${sgr(alt.savedCurAttrData)}\x1b7\x1b[?47l`;
  }
  if (region(buffer, rows) !== '') {
    // DECSTBM homes the cursor: it goes back below.
    text += region(buffer, rows);
  }
  if ((buffer.savedX !== 0 || buffer.savedY !== 0) && !decPrivateModes.origin) {
    // DECSC: saved by going there, saving (with the set and colours it saved) and coming back.
    const saved = Math.max(buffer.savedY - buffer.ybase, 0);
    text += `\x1b[${saved + 1};${buffer.savedX + 1}H${designate('(', buffer.savedCharset)}`;
    text += `${sgr(buffer.savedCurAttrData)}\x1b7`;
  }
  if (text !== '') {
    // Back to the cursor and colours serialize left (a pending wrap is lost: a gap). Under
    // DECOM, which serialize has set by now, CUP counts from the region's top.
    const row = decPrivateModes.origin ? buffer.y - buffer.scrollTop : buffer.y;
    text += `${sgr(current)}\x1b[${row + 1};${buffer.x + 1}H`;
  }
  const charsets = core._charsetService._charsets;
  text += designate('(', charsets[0]) + designate(')', charsets[1]);
  if (core._charsetService.glevel === 1) text += '\x0e'; // SO: G1 in use
  const encoding = MOUSE_ENCODINGS[core.coreMouseService.activeEncoding];
  if (encoding !== undefined) text += encoding;
  if (decPrivateModes.cursorStyle !== undefined) {
    const style =
      CURSOR_STYLES[decPrivateModes.cursorStyle] + (decPrivateModes.cursorBlink === false ? 1 : 0);
    text += `\x1b[${style} q`;
  }
  if (core.coreService.isCursorHidden) text += '\x1b[?25l';
  return text;
}
