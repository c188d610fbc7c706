// Command-line flags: defaults, every flag, and an error naming the flag for every bad value.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SOCKET_MODE, MAX_IDLE_SECONDS } from '../server/index.js';
import { listensLocally, parseCliArgs, USAGE, type CliOptions } from './args.js';

function options(argv: string[]): CliOptions {
  const parsed = parseCliArgs(argv);
  assert.equal(parsed.kind, 'run', `expected options, got ${JSON.stringify(parsed)}`);
  return parsed.options;
}

function errorOf(argv: string[]): string {
  const parsed = parseCliArgs(argv);
  assert.equal(parsed.kind, 'error', `expected an error for ${JSON.stringify(argv)}`);
  return parsed.message;
}

/** What a bare `xterm-js-shell` runs with (README and --help promise these). */
const DEFAULTS: CliOptions = {
  host: '127.0.0.1',
  port: 8765,
  socket: undefined,
  socketMode: 0o600,
  exitWhenIdle: undefined,
  auth: 'token',
  jwt: undefined,
  allowUnauthenticatedRemote: false,
  tokenFile: undefined,
  logLevel: 'info',
  shellLogoutWait: 1,
  shellTerminateWait: 3,
  authTimeout: 5,
  pingInterval: 30,
  resumeWindow: 60,
  replayBufferBytes: 1024 * 1024,
  screenState: { scrollbackLines: 1000 },
  recordDir: undefined,
  recordInput: false,
  metrics: false,
  allowedOrigins: [],
  frameAncestors: [],
  trustedProxies: [],
  maxShareLifetime: 86_400,
  maxConnections: 1024,
  command: undefined,
};

/** The flags that take a value, each refused without one. */
const VALUE_FLAGS = [
  '--host',
  '--port',
  '--socket',
  '--socket-mode',
  '--exit-when-idle',
  '--auth',
  '--token-file',
  '--jwt-secret-file',
  '--jwt-public-key',
  '--jwt-jwks-file',
  '--jwt-audience',
  '--jwt-issuer',
  '--allowed-origin',
  '--max-connections',
  '--log-level',
  '--shell-logout-wait',
  '--shell-terminate-wait',
  '--auth-timeout',
  '--ping-interval',
  '--resume-window',
  '--replay-buffer',
  '--screen-state',
  '--scrollback-lines',
  '--record-dir',
];

const SWITCHES = [
  '--allow-unauthenticated-remote',
  '--record-input',
  '--metrics',
  '--help',
  '--version',
];

describe('parseCliArgs', () => {
  it('defaults to 127.0.0.1:8765, token auth, info logs and the login shell', () => {
    assert.deepEqual({ ...options([]) }, DEFAULTS);
    assert.equal(DEFAULT_SOCKET_MODE, DEFAULTS.socketMode);
  });

  it('reads every TCP, token and shell flag', () => {
    assert.deepEqual(
      {
        ...options([
          '--host',
          '::1',
          '--port',
          '0',
          '--exit-when-idle',
          '600',
          '--auth',
          'token',
          '--token-file',
          '/run/secrets/token',
          '--log-level',
          'debug-min',
          '--shell-logout-wait',
          '0.5',
          '--shell-terminate-wait',
          '10',
          '--auth-timeout',
          '2.5',
          '--ping-interval',
          '0',
          '--resume-window',
          '0',
          '--replay-buffer',
          '512K',
          '--scrollback-lines',
          '50',
          '--record-dir',
          '/var/log/shells',
          '--record-input',
          '--metrics',
          '--allowed-origin',
          'https://console.example.com',
          '--allowed-origin',
          'http://localhost:3000',
          '--frame-ancestors',
          'https://console.example.com',
          '--max-connections',
          '7',
          '--',
          '/bin/zsh',
          '-l',
        ]),
      },
      {
        ...DEFAULTS,
        host: '::1',
        port: 0,
        exitWhenIdle: 600,
        tokenFile: '/run/secrets/token',
        logLevel: 'debug-min',
        shellLogoutWait: 0.5,
        shellTerminateWait: 10,
        authTimeout: 2.5,
        pingInterval: 0,
        resumeWindow: 0,
        replayBufferBytes: 512 * 1024,
        screenState: { scrollbackLines: 50 },
        recordDir: '/var/log/shells',
        recordInput: true,
        metrics: true,
        allowedOrigins: ['https://console.example.com', 'http://localhost:3000'],
        frameAncestors: ['https://console.example.com'],
        maxConnections: 7,
        command: ['/bin/zsh', '-l'],
      },
    );
  });

  it('turns screen state off with --screen-state off', () => {
    assert.equal(options(['--screen-state', 'off']).screenState, false);
    assert.deepEqual(options(['--screen-state', 'on']).screenState, { scrollbackLines: 1000 });
  });

  it('reads --socket and --socket-mode (octal)', () => {
    const parsed = options(['--socket', '/run/xjs/user.sock', '--socket-mode', '0660']);
    assert.equal(parsed.socket, '/run/xjs/user.sock');
    assert.equal(parsed.socketMode, 0o660);
    assert.equal(options(['--socket', 'x.sock', '--socket-mode', '640']).socketMode, 0o640);
  });

  it('reads the --jwt-* flags with --auth jwt', () => {
    assert.deepEqual(
      options([
        '--auth',
        'jwt',
        '--jwt-public-key',
        '/etc/xjs/idp.pem',
        '--jwt-audience',
        'shell',
        '--jwt-issuer',
        'https://idp.example.com',
      ]).jwt,
      {
        secretFile: undefined,
        publicKeyFile: '/etc/xjs/idp.pem',
        jwksFile: undefined,
        audience: 'shell',
        issuer: 'https://idp.example.com',
      },
    );
    assert.equal(
      options(['--auth', 'jwt', '--jwt-secret-file', 's', '--jwt-audience', 'a']).jwt?.secretFile,
      's',
    );
    assert.equal(
      options(['--auth', 'jwt', '--jwt-jwks-file', 'k.json', '--jwt-audience', 'a']).jwt?.jwksFile,
      'k.json',
    );
  });

  it('reads flags written as --flag=value', () => {
    const parsed = options(['--port=9000', '--auth=none', '--log-level=error', '--host=localhost']);
    assert.equal(parsed.port, 9000);
    assert.equal(parsed.auth, 'none');
    assert.equal(parsed.logLevel, 'error');
    assert.equal(parsed.host, 'localhost');
  });

  it('lets a repeated flag win with its last value', () => {
    assert.equal(options(['--port', '8080', '--port', '9090']).port, 9090);
  });

  for (const level of ['error', 'warn', 'info', 'debug-min', 'debug']) {
    it(`accepts --log-level ${level}`, () => {
      assert.equal(options(['--log-level', level]).logLevel, level);
    });
  }

  it('accepts the extreme ports 0 and 65535', () => {
    assert.equal(options(['--port', '0']).port, 0);
    assert.equal(options(['--port', '65535']).port, 65535);
  });

  for (const [given, bytes] of [
    ['65536', 65536],
    ['512K', 512 * 1024],
    ['2M', 2 * 1024 * 1024],
    ['1G', 1024 ** 3],
    ['4MiB', 4 * 1024 * 1024],
    ['0', 0],
  ] as const) {
    it(`reads --replay-buffer ${given} as ${bytes} bytes`, () => {
      assert.equal(options(['--replay-buffer', given]).replayBufferBytes, bytes);
    });
  }

  it('takes everything after -- as the shell command, flags included', () => {
    assert.deepEqual(
      options(['--port', '0', '--', '/bin/bash', '--norc', '--port', '--help']).command,
      ['/bin/bash', '--norc', '--port', '--help'],
    );
    assert.deepEqual(options(['--', '/bin/sh', '-c', 'echo hi; exit 3']).command, [
      '/bin/sh',
      '-c',
      'echo hi; exit 3',
    ]);
  });

  it('answers --help and -h with help, --version and -V with the version', () => {
    assert.deepEqual(parseCliArgs(['--help']), { kind: 'help' });
    assert.deepEqual(parseCliArgs(['-h']), { kind: 'help' });
    assert.deepEqual(parseCliArgs(['--port', '0', '--help']), { kind: 'help' });
    assert.deepEqual(parseCliArgs(['--version']), { kind: 'version' });
    assert.deepEqual(parseCliArgs(['-V']), { kind: 'version' });
  });

  it('documents every flag it reads in the usage text', () => {
    for (const flag of [...VALUE_FLAGS, ...SWITCHES]) {
      assert.match(USAGE, new RegExp(`^\\s+(-\\w, )?${flag}\\b`, 'm'), `${flag} in --help`);
    }
  });

  describe('refuses a bad value with a message naming the flag', () => {
    const bad: Array<[string[], string]> = [
      [['--port', '65536'], '--port'],
      [['--port', 'http'], '--port'],
      [['--port', '80.5'], '--port'],
      [['--port', '0x50'], '--port'],
      [['--port', '1e3'], '--port'],
      [['--port='], '--port'],
      [['--port=-1'], '--port'],
      [['--port', '-1'], '--port'],
      [['--host', ''], '--host'],
      [['--host', '   '], '--host'],
      [['--socket', ''], '--socket'],
      [['--socket', 'x.sock', '--port', '80'], '--socket'],
      [['--socket', 'x.sock', '--host', '127.0.0.1'], '--socket'],
      [['--socket-mode', '0600'], '--socket-mode'],
      [['--socket', 'x.sock', '--socket-mode', '0800'], '--socket-mode'],
      [['--socket', 'x.sock', '--socket-mode', 'rw'], '--socket-mode'],
      [['--socket', 'x.sock', '--socket-mode', '10600'], '--socket-mode'],
      [['--exit-when-idle', '0'], '--exit-when-idle'],
      [['--exit-when-idle', 'soon'], '--exit-when-idle'],
      [['--exit-when-idle', String(MAX_IDLE_SECONDS + 1)], '--exit-when-idle'],
      [['--auth', 'basic'], '--auth'],
      [['--auth', 'TOKEN'], '--auth'],
      [['--auth', 'none', '--host', '0.0.0.0'], '--auth none'],
      [['--auth', 'none', '--host', 'example.com'], '--auth none'],
      [['--jwt-audience', 'shell'], '--jwt-audience'],
      [['--auth', 'none', '--jwt-issuer', 'x'], '--jwt-issuer'],
      [['--auth', 'jwt', '--jwt-audience', 'a'], '--jwt-secret-file'],
      [
        ['--auth', 'jwt', '--jwt-secret-file', 's', '--jwt-jwks-file', 'k', '--jwt-audience', 'a'],
        '--jwt-jwks-file',
      ],
      [['--auth', 'jwt', '--jwt-secret-file', 's'], '--jwt-audience'],
      [['--auth', 'jwt', '--jwt-secret-file', 's', '--jwt-audience', ' '], '--jwt-audience'],
      [['--log-level', 'verbose'], '--log-level'],
      [['--log-level', 'INFO'], '--log-level'],
      [['--shell-logout-wait', 'soon'], '--shell-logout-wait'],
      [['--shell-logout-wait=-1'], '--shell-logout-wait'],
      [['--shell-logout-wait', ''], '--shell-logout-wait'],
      [['--shell-logout-wait', 'Infinity'], '--shell-logout-wait'],
      [['--shell-terminate-wait', 'NaN'], '--shell-terminate-wait'],
      [['--shell-terminate-wait=-3'], '--shell-terminate-wait'],
      [['--auth-timeout', 'x'], '--auth-timeout'],
      [['--auth-timeout', '0'], '--auth-timeout'],
      [['--auth-timeout', '0.0'], '--auth-timeout'],
      [['--ping-interval', 'often'], '--ping-interval'],
      [['--ping-interval=-30'], '--ping-interval'],
      [['--resume-window', 'a minute'], '--resume-window'],
      [['--resume-window=-1'], '--resume-window'],
      [['--replay-buffer', '1T'], '--replay-buffer'],
      [['--replay-buffer', '2G'], '--replay-buffer'],
      [['--replay-buffer', '1.5M'], '--replay-buffer'],
      [['--replay-buffer', 'lots'], '--replay-buffer'],
      [['--screen-state', 'yes'], '--screen-state'],
      [['--scrollback-lines', '-1'], '--scrollback-lines'],
      [['--scrollback-lines', '100001'], '--scrollback-lines'],
      [['--scrollback-lines', 'many'], '--scrollback-lines'],
      [['--record-dir', ''], '--record-dir'],
      [['--max-connections', '0'], '--max-connections'],
      [['--max-connections', '1.5'], '--max-connections'],
      [['--max-connections', '1000001'], '--max-connections'],
      [['--allowed-origin', 'example.com'], '--allowed-origin'],
      [['--allowed-origin', 'https://example.com/app'], '--allowed-origin'],
      [['--allowed-origin', 'ftp://example.com'], '--allowed-origin'],
      [['--allowed-origin', 'https://ok.example', '--allowed-origin', '*'], '--allowed-origin'],
      [['--frame-ancestors', "'self'"], '--frame-ancestors'],
      [['--frame-ancestors', 'https://ok.example', '--frame-ancestors', '*'], '--frame-ancestors'],
      [['--frame-ancestors', 'https://ok.example/page'], '--frame-ancestors'],
    ];
    for (const [argv, flag] of bad) {
      it(argv.join(' '), () => {
        const message = errorOf(argv);
        assert.ok(message.includes(flag), `${JSON.stringify(message)} does not name ${flag}`);
      });
    }

    it('quotes the bad value back', () => {
      assert.equal(
        errorOf(['--port', 'http']),
        "--port must be a whole number from 0 to 65535, got 'http'",
      );
      assert.match(errorOf(['--auth', 'basic']), /--auth must be one of .*, got 'basic'/);
    });

    // setTimeout fires at once for a delay above 2^31 - 1 ms (24.8 days), so a longer one would
    // turn into "at once": every client timed out, every socket cut, every detached shell ended.
    for (const flag of ['--auth-timeout', '--ping-interval', '--resume-window']) {
      it(`${flag} longer than a timer can wait (${MAX_IDLE_SECONDS + 1} s)`, () => {
        const message = errorOf([flag, String(MAX_IDLE_SECONDS + 1)]);
        assert.ok(message.includes(flag), `${JSON.stringify(message)} does not name ${flag}`);
      });
    }
  });

  it('refuses --auth-timeout 0: a client could never authenticate', () => {
    assert.match(
      errorOf(['--auth-timeout', '0']),
      /--auth-timeout must be a number of seconds > 0/,
    );
  });

  it('allows 0 for --ping-interval (off), --resume-window (off) and --shell-logout-wait', () => {
    assert.equal(options(['--ping-interval', '0']).pingInterval, 0);
    assert.equal(options(['--resume-window', '0']).resumeWindow, 0);
    assert.equal(options(['--shell-logout-wait', '0']).shellLogoutWait, 0);
  });

  it('refuses --token-file with --auth none, naming --token-file', () => {
    assert.match(errorOf(['--auth', 'none', '--token-file', 'token.txt']), /--token-file/);
    assert.match(errorOf(['--token-file', 'token.txt', '--auth', 'none']), /--token-file/);
    assert.match(
      errorOf([
        '--auth',
        'jwt',
        '--jwt-secret-file',
        's',
        '--jwt-audience',
        'a',
        '--token-file',
        't',
      ]),
      /--token-file/,
    );
  });

  it('allows --auth none on loopback, a UNIX socket, or elsewhere when told so explicitly', () => {
    assert.equal(options(['--auth', 'none']).auth, 'none');
    assert.equal(options(['--auth', 'none', '--socket', 'x.sock']).auth, 'none');
    const remote = options([
      '--auth',
      'none',
      '--host',
      '0.0.0.0',
      '--allow-unauthenticated-remote',
    ]);
    assert.equal(remote.allowUnauthenticatedRemote, true);
  });

  it('refuses an unknown option, naming it', () => {
    assert.equal(errorOf(['--bogus']), 'unknown option --bogus (see --help)');
    assert.match(errorOf(['-x']), /unknown option -x/);
    assert.match(errorOf(['--port', '0', '--noauth']), /unknown option --noauth/);
    assert.match(errorOf(['--help', '--bogus']), /unknown option --bogus/);
  });

  for (const flag of VALUE_FLAGS) {
    it(`refuses ${flag} without a value, naming it`, () => {
      assert.equal(errorOf([flag]), `${flag} needs a value`);
    });
  }

  it('refuses a flag whose value is missing before the next flag, naming the first', () => {
    assert.equal(
      errorOf(['--port', '--auth', 'none']),
      '--port needs a value (for a value starting with a dash write --port=VALUE)',
    );
    assert.match(errorOf(['--port', '-1']), /^--port needs a value/);
  });

  it('refuses a value given to a switch', () => {
    assert.match(errorOf(['--help=yes']), /--help/);
    assert.match(errorOf(['--metrics=no']), /--metrics/);
  });

  it('refuses a shell command without --, pointing at --', () => {
    assert.match(errorOf(['/bin/bash']), /unexpected argument '\/bin\/bash'.*after --/);
  });

  it('refuses -- without a command', () => {
    assert.match(errorOf(['--']), /-- must be followed by the shell command/);
    assert.match(errorOf(['--port', '0', '--', '']), /-- must be followed by the shell command/);
  });
});

describe('listensLocally', () => {
  for (const host of [
    '127.0.0.1',
    '127.1.2.3',
    'localhost',
    'LOCALHOST',
    '::1',
    '[::1]',
    '0:0:0:0:0:0:0:1',
    '::ffff:127.0.0.1',
  ]) {
    it(`counts ${host} as reachable from this machine only`, () => {
      assert.equal(listensLocally(host, undefined), true);
    });
  }

  for (const host of [
    '0.0.0.0',
    '::',
    '10.0.0.1',
    '192.168.1.1',
    'example.com',
    '127.example.com',
    '::2',
  ]) {
    it(`counts ${host} as reachable from elsewhere`, () => {
      assert.equal(listensLocally(host, undefined), false);
    });
  }

  it('counts a UNIX socket as local, whatever the host', () => {
    assert.equal(listensLocally('0.0.0.0', '/run/x.sock'), true);
  });
});
