import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import headless from '@xterm/headless';
import unicode11Addon from '@xterm/addon-unicode11';
import { ScreenTerminal, type TerminalSnapshot } from './screen-snapshot.js';

type Terminal = InstanceType<typeof headless.Terminal>;

const SCROLLBACK = 200;

/** A terminal like the page's (unicode 11), to restore into or to feed every byte. */
function pageTerminal(cols: number, rows: number): Terminal {
  const term = new headless.Terminal({
    cols,
    rows,
    scrollback: SCROLLBACK,
    allowProposedApi: true,
  });
  term.loadAddon(new unicode11Addon.Unicode11Addon());
  term.unicode.activeVersion = '11';
  return term;
}

function write(term: Terminal, data: Uint8Array | string): Promise<void> {
  return new Promise((resolve) => term.write(data, resolve));
}

/** Deterministic randomness, so a failure names its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const PIECES = [
  'plain words ',
  'wide 漢字 and 🙂 ',
  'é à ü © ° ',
  '\r\n',
  '\x1b[31mred\x1b[0m ',
  '\x1b[1;4;38;5;208mbold orange\x1b[m',
  '\x1b[38;2;10;200;30;48;2;1;2;3mtruecolor\x1b[0m',
  '\x1b[5;10HMARK',
  '\x1b[2J\x1b[H',
  '\x1b[K',
  '\x1b[?1049h',
  '\x1b[?1049l',
  '\x1b[?1h',
  '\x1b[?1l',
  '\x1b[?2004h',
  '\x1b=',
  '\x1b[?1000h\x1b[?1006h',
  '\x1b[?25l',
  '\x1b[?25h',
  '\x1b[4 q',
  '\x1b]2;a title ✓\x07',
  '\x1b[3;20r',
  '\x1b[r',
  // Balanced: a set switched on and left on across a DECRC or 1049l is a named gap (the docs).
  '\x1b(0lqqk\x1b(B',
  '\x1b[10;1H' + 'line\r\n'.repeat(30),
  'x'.repeat(150),
  '\x1b[7;3H\x1b7',
  '\x1b8',
];

/** Output with everything the snapshot must carry, as bytes with resize points. */
function output(next: () => number, pieces: number): Uint8Array {
  let text = '';
  for (let i = 0; i < pieces; i++) {
    text += PIECES[Math.floor(next() * PIECES.length)];
  }
  return new TextEncoder().encode(text);
}

/** The internals compared (the same ones screen-snapshot.ts reads). */
interface CoreInternals {
  readonly coreService: {
    readonly isCursorHidden: boolean;
    readonly decPrivateModes: { readonly cursorStyle: string | undefined };
  };
  readonly coreMouseService: { readonly activeEncoding: string };
  readonly _bufferService: { readonly buffer: { scrollTop: number; scrollBottom: number } };
  readonly _charsetService: {
    readonly glevel: number;
    readonly _charsets: ReadonlyArray<Record<string, string> | undefined>;
  };
}

interface Compared {
  readonly lines: string[];
  readonly state: Record<string, unknown>;
}

/** A row as drawn: each cell's characters, width, colours and attributes. */
function drawn(term: Terminal, buffer: Terminal['buffer']['active'], y: number): string {
  const line = buffer.getLine(y);
  const cell = buffer.getNullCell();
  let text = '';
  for (let x = 0; line !== undefined && x < term.cols; x++) {
    line.getCell(x, cell);
    text += `${cell.getChars()}|${cell.getWidth()}|${cell.getFgColorMode()}:${cell.getFgColor()}|`;
    text += `${cell.getBgColorMode()}:${cell.getBgColor()}|${cell.isBold()}${cell.isUnderline()}`;
    text += `${cell.isInverse()}${cell.isItalic()}${cell.isDim()};`;
  }
  return `${line?.isWrapped === true ? '~' : ''}${text}`;
}

/**
 * What a user sees and what changes how keys are sent: the normal buffer with its history,
 * the alternate screen's rows (lines xterm keeps above it after a shrink are never shown),
 * cursor, modes, title.
 */
function observe(term: Terminal, title: string): Compared {
  const core = (term as unknown as { _core: CoreInternals })._core;
  const normal = term.buffer.normal;
  const alternate = term.buffer.alternate;
  const lines: string[] = [];
  for (let y = 0; y < normal.length; y++) lines.push(drawn(term, normal, y));
  lines.push('--');
  for (let y = alternate.baseY; y < alternate.length; y++) lines.push(drawn(term, alternate, y));
  return {
    lines,
    state: {
      active: term.buffer.active.type,
      cursor: [term.buffer.active.cursorX, term.buffer.active.cursorY],
      modes: term.modes,
      cursorHidden: core.coreService.isCursorHidden,
      cursorStyle: core.coreService.decPrivateModes.cursorStyle,
      mouseEncoding: core.coreMouseService.activeEncoding,
      region: [core._bufferService.buffer.scrollTop, core._bufferService.buffer.scrollBottom],
      charset: [core._charsetService.glevel, core._charsetService._charsets[0]?.q],
      title,
      size: [term.cols, term.rows],
    },
  };
}

async function titled(term: Terminal, action: () => Promise<void>): Promise<string> {
  let title = '';
  const subscription = term.onTitleChange((value) => (title = value));
  await action();
  subscription.dispose();
  return title;
}

describe('ScreenTerminal snapshot', () => {
  it('restores, with the output after it, exactly the state of a terminal fed every byte', async () => {
    for (let seed = 1; seed <= 60; seed++) {
      const next = random(seed);
      const bytes = output(next, 60 + Math.floor(next() * 80));
      const cols = 40 + Math.floor(next() * 60);
      const rows = 10 + Math.floor(next() * 20);
      // Chunks split anywhere (inside sequences, inside UTF-8), a resize at some splits.
      const cuts = [...new Set(Array.from({ length: 12 }, () => Math.floor(next() * bytes.length)))]
        .filter((cut) => cut > 0)
        .sort((a, b) => a - b);
      const snapshotAt = cuts[Math.floor(next() * cuts.length)] ?? bytes.length;
      // Resizes up to the snapshot's cut. After it, xterm.js would bring back what it keeps
      // unseen (text cut off by narrowing, rows above a shrunk alternate screen), which no
      // snapshot carries: a named gap (docs/screen-state.md).
      const resizes = new Map(
        cuts
          .filter((cut) => cut <= snapshotAt && next() < 0.3)
          .map((cut) => [cut, [30 + Math.floor(next() * 80), 8 + Math.floor(next() * 30)]]),
      );

      const screen = new ScreenTerminal({ cols, rows, scrollbackLines: SCROLLBACK });
      const reference = pageTerminal(cols, rows);
      let snapshot: Promise<TerminalSnapshot> | undefined;
      let from = 0;
      const referenceTitle = await titled(reference, async () => {
        for (const cut of [...cuts, bytes.length]) {
          screen.write(bytes.subarray(from, cut));
          await write(reference, bytes.subarray(from, cut));
          if (cut === snapshotAt) snapshot = screen.snapshot();
          const size = resizes.get(cut);
          if (size !== undefined) {
            screen.resize(size[0] as number, size[1] as number);
            reference.resize(size[0] as number, size[1] as number);
          }
          from = cut;
        }
      });
      const taken = await (snapshot as Promise<TerminalSnapshot>);
      assert.ok(taken.offset <= snapshotAt && taken.offset >= snapshotAt - 64, `seed ${seed}`);
      assert.equal(taken.dirty, false, `seed ${seed}`);

      const restored = pageTerminal(taken.cols, taken.rows);
      const answers: string[] = [];
      restored.onData((data) => answers.push(data));
      const restoredTitle = await titled(restored, async () => {
        await write(restored, taken.data);
        assert.deepEqual(answers, [], `seed ${seed}: the snapshot made the terminal answer`);
        let at = taken.offset;
        for (const cut of [...cuts, bytes.length].filter((value) => value >= taken.offset)) {
          await write(restored, bytes.subarray(at, cut));
          // Resizes before the snapshot are in its size; those from its cut on come after it.
          const size = cut >= snapshotAt ? resizes.get(cut) : undefined;
          if (size !== undefined) restored.resize(size[0] as number, size[1] as number);
          at = cut;
        }
      });
      const want = observe(reference, referenceTitle);
      const got = observe(restored, restoredTitle);
      assert.deepEqual(got.state, want.state, `seed ${seed}`);
      // The restored terminal holds at most SCROLLBACK lines of the normal buffer's history.
      const split = (lines: string[]): [string[], string[]] => {
        const at = lines.indexOf('--');
        return [lines.slice(0, at).slice(-SCROLLBACK), lines.slice(at + 1)];
      };
      const [gotNormal, gotAlternate] = split(got.lines);
      const [wantNormal, wantAlternate] = split(want.lines);
      assert.deepEqual(gotNormal, wantNormal, `seed ${seed}: normal buffer`);
      assert.deepEqual(gotAlternate, wantAlternate, `seed ${seed}: alternate screen`);
      screen.dispose();
    }
  });
});
