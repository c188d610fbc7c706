/**
 * After a reload the server replays output the terminal already answered once, queries
 * included (vim asking for the cursor position, a prompt asking for the background colour).
 * Answering again would type the reply into whatever reads the shell's input now. The queries
 * are swallowed at the parser while replayed output is parsed, so only those replies are
 * dropped; what the user types meanwhile goes to the shell, since it never passes the parser.
 * @module
 */
import type { IDisposable, IFunctionIdentifier, Terminal } from '@xterm/xterm';

/** The CSI queries xterm.js 6 answers: DA1, DA2, DSR, DECDSR, DECRQM (ANSI and DEC modes). */
const CSI_QUERIES: readonly IFunctionIdentifier[] = [
  { final: 'c' },
  { prefix: '>', final: 'c' },
  { final: 'n' },
  { prefix: '?', final: 'n' },
  { intermediates: '$', final: 'p' },
  { prefix: '?', intermediates: '$', final: 'p' },
];
/** CSI t reports: window and cell size (14, 16, 18); the other window ops change state. */
const WINDOW_REPORTS = new Set([14, 16, 18]);
/** OSC colour queries: `?` in place of a colour (OSC 4 indexed, 10 fg, 11 bg, 12 cursor). */
const OSC_COLOR_QUERIES = [4, 10, 11, 12];

/**
 * Swallows every query that would make the terminal answer while `replaying()` is true, and
 * leaves it to xterm.js otherwise (a handler returning false passes the sequence on).
 */
export function muteRepliesWhileReplaying(term: Terminal, replaying: () => boolean): IDisposable {
  const hooks: IDisposable[] = [
    ...CSI_QUERIES.map((id) => term.parser.registerCsiHandler(id, () => replaying())),
    term.parser.registerCsiHandler(
      { final: 't' },
      (params) => replaying() && typeof params[0] === 'number' && WINDOW_REPORTS.has(params[0]),
    ),
    ...OSC_COLOR_QUERIES.map((ident) =>
      term.parser.registerOscHandler(ident, (data) => replaying() && data.includes('?')),
    ),
    // DECRQSS: request a setting's value.
    term.parser.registerDcsHandler({ intermediates: '$', final: 'q' }, () => replaying()),
  ];
  return { dispose: () => hooks.forEach((hook) => hook.dispose()) };
}
