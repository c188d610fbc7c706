/**
 * What a paste may carry to the shell: text, tabs and line ends, and no other control
 * character. A pasted ESC could end bracketed paste early (`ESC[201~`) and have the rest run as
 * typed keys; a pasted Ctrl+U, Ctrl+C or backspace would edit the line or signal the program
 * even without brackets. Every paste of the page goes through here, in every mode.
 * @module
 */

/**
 * A control character (Unicode `Cc`: C0 U+0000–U+001F, DEL U+007F, C1 U+0080–U+009F) other than
 * tab, LF and CR. C1 counts because U+009B is CSI to a terminal, as ESC [ is.
 */
const FORBIDDEN = /(?![\t\n\r])\p{Cc}/gu;

/** `text` without the controls a paste must not carry (see the module comment). */
export function sanitisePaste(text: string): string {
  return text.replace(FORBIDDEN, '');
}
