// The shell's environment: the server's secrets and activation variables stay out, TERM goes in.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shellEnvironment } from './shell-env.js';

const BASE = {
  HOME: '/home/user',
  PATH: '/usr/bin:/bin',
  LANG: 'C.UTF-8',
  TERM: 'screen',
  COLORTERM: '',
};

describe('shellEnvironment', () => {
  it('keeps the ordinary variables of the server', () => {
    const env = shellEnvironment(BASE);
    assert.equal(env.HOME, '/home/user');
    assert.equal(env.PATH, '/usr/bin:/bin');
    assert.equal(env.LANG, 'C.UTF-8');
  });

  it('sets TERM=xterm-256color and COLORTERM=truecolor by default, over the server own', () => {
    const env = shellEnvironment(BASE);
    assert.equal(env.TERM, 'xterm-256color');
    assert.equal(env.COLORTERM, 'truecolor');
    assert.equal(shellEnvironment({}).TERM, 'xterm-256color');
  });

  it('removes every XTERM_JS_SHELL_ variable (the token, key paths)', () => {
    const env = shellEnvironment({
      ...BASE,
      XTERM_JS_SHELL_TOKEN: 'secret-secret-secret',
      XTERM_JS_SHELL_JWT_KEY: '/etc/key.pem',
      XTERM_JS_SHELL_: 'x',
    });
    assert.deepEqual(
      Object.keys(env).filter((name) => name.startsWith('XTERM_JS_SHELL_')),
      [],
    );
  });

  it('keeps variables that only resemble the server prefix', () => {
    const env = shellEnvironment({ MY_XTERM_JS_SHELL_TOKEN: 'a', xterm_js_shell_note: 'b' });
    assert.equal(env.MY_XTERM_JS_SHELL_TOKEN, 'a');
    assert.equal(env.xterm_js_shell_note, 'b');
  });

  const scrubbed = [
    'LISTEN_FDS',
    'LISTEN_PID',
    'LISTEN_FDNAMES',
    'NOTIFY_SOCKET',
    'WATCHDOG_PID',
    'WATCHDOG_USEC',
    'TMUX',
    'TMUX_PANE',
    'STY',
    'WINDOW',
    'WINDOWID',
    'TERMCAP',
    'COLUMNS',
    'LINES',
  ];
  it(`removes systemd's and a surrounding terminal's variables (${scrubbed.join(', ')})`, () => {
    const base: Record<string, string> = { ...BASE };
    for (const name of scrubbed) {
      base[name] = '1';
    }
    const env = shellEnvironment(base);
    assert.deepEqual(
      scrubbed.filter((name) => name in env),
      [],
    );
  });

  it('leaves out variables whose value is undefined', () => {
    const env = shellEnvironment({ ...BASE, UNSET: undefined });
    assert.equal('UNSET' in env, false);
  });

  it('lets overrides win over the server environment and the terminal defaults', () => {
    const env = shellEnvironment(BASE, { TERM: 'xterm', LANG: 'de_DE.UTF-8', EDITOR: 'vi' });
    assert.equal(env.TERM, 'xterm');
    assert.equal(env.LANG, 'de_DE.UTF-8');
    assert.equal(env.EDITOR, 'vi');
    assert.equal(env.COLORTERM, 'truecolor');
  });

  it('removes a variable whose override is undefined, defaults included', () => {
    const env = shellEnvironment(BASE, { PATH: undefined, COLORTERM: undefined });
    assert.equal('PATH' in env, false);
    assert.equal('COLORTERM' in env, false);
    assert.equal(env.HOME, '/home/user');
  });

  it('lets an explicit override set a variable the scrubbing would remove', () => {
    const env = shellEnvironment({ ...BASE, TMUX: 'outer' }, { TMUX: 'inner' });
    assert.equal(env.TMUX, 'inner');
  });

  it('does not change the objects it is given', () => {
    const base = { ...BASE, XTERM_JS_SHELL_TOKEN: 'secret-secret-secret' };
    const overrides = { TERM: 'vt100', PATH: undefined };
    const env = shellEnvironment(base, overrides);
    env.EXTRA = 'x';
    assert.deepEqual(base, { ...BASE, XTERM_JS_SHELL_TOKEN: 'secret-secret-secret' });
    assert.deepEqual(overrides, { TERM: 'vt100', PATH: undefined });
  });
});
