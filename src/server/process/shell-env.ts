/**
 * The environment a shell starts with: the server's own, minus what belongs to the server (its
 * credentials, systemd's activation variables, a surrounding multiplexer), plus terminal type.
 * @module
 */

/** The server's own variables (token, key paths) never reach a shell: prefix match. */
const SERVER_PREFIX = 'XTERM_JS_SHELL_';

const SCRUBBED = new Set([
  // systemd socket activation and notification belong to the server process, not its shells.
  'LISTEN_FDS',
  'LISTEN_PID',
  'LISTEN_FDNAMES',
  'NOTIFY_SOCKET',
  'WATCHDOG_PID',
  'WATCHDOG_USEC',
  // A multiplexer or terminal the server itself was started in (as node-pty does).
  'TMUX',
  'TMUX_PANE',
  'STY',
  'WINDOW',
  'WINDOWID',
  'TERMCAP',
  'COLUMNS',
  'LINES',
]);

const TERMINAL_DEFAULTS = { TERM: 'xterm-256color', COLORTERM: 'truecolor' };

/**
 * Builds the shell's environment from `base` (usually process.env). `overrides` win over both;
 * a value of `undefined` there removes the variable.
 */
export function shellEnvironment(
  base: Readonly<Record<string, string | undefined>>,
  overrides: Readonly<Record<string, string | undefined>> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(base)) {
    if (value !== undefined && !SCRUBBED.has(name) && !name.startsWith(SERVER_PREFIX)) {
      env[name] = value;
    }
  }
  Object.assign(env, TERMINAL_DEFAULTS);
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) {
      delete env[name];
    } else {
      env[name] = value;
    }
  }
  return env;
}
