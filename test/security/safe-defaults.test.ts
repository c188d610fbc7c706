// Safe by default: no unauthenticated shell on a network address unless asked for by name, and
// a page that never turns what the shell prints into markup.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseCliArgs } from '../../src/cli/args.js';
import { runCli, within } from '../helpers/hostile.js';

function parse(args: string[]): ReturnType<typeof parseCliArgs> {
  return parseCliArgs(['--port', '0', ...args]);
}

describe('--auth none', () => {
  const remote = [
    '0.0.0.0',
    '::',
    '[::]',
    '192.0.2.10',
    '10.0.0.1',
    'example.com',
    '::2',
    '128.0.0.1',
  ];
  const local = [
    '127.0.0.1',
    '127.1.2.3',
    'localhost',
    'LOCALHOST',
    '::1',
    '[::1]',
    '0:0:0:0:0:0:0:1',
  ];

  it('is refused on an address other than loopback, naming both flags', () => {
    for (const host of remote) {
      const parsed = parse(['--auth', 'none', '--host', host]);
      assert.equal(parsed.kind, 'error', host);
      assert.match(
        parsed.kind === 'error' ? parsed.message : '',
        /--auth none on --host .*--allow-unauthenticated-remote/,
        host,
      );
    }
  });

  it('is allowed on loopback and on a UNIX socket', () => {
    for (const host of local) {
      assert.equal(parse(['--auth', 'none', '--host', host]).kind, 'run', host);
    }
    assert.equal(parseCliArgs(['--auth', 'none', '--socket', '/tmp/x.sock']).kind, 'run');
  });

  it('is allowed elsewhere only with --allow-unauthenticated-remote', () => {
    for (const host of remote) {
      const parsed = parse(['--auth', 'none', '--host', host, '--allow-unauthenticated-remote']);
      assert.equal(parsed.kind, 'run', host);
    }
  });

  it('makes the command exit 2 before it listens', async () => {
    const cli = runCli(['--auth', 'none', '--host', '0.0.0.0', '--port', '0']);
    assert.equal(await within(cli.exited, 'the command to exit', 60_000), 2);
    assert.match(
      cli.stderr(),
      /^xterm-js-shell: --auth none on --host 0\.0\.0\.0 .*--allow-unauthenticated-remote/,
    );
    assert.equal(cli.stdout(), '', 'it printed a URL: it listened');
  });

  it('does not affect token or JWT authentication on any address', () => {
    assert.equal(parse(['--host', '0.0.0.0']).kind, 'run');
    const jwt = ['--auth', 'jwt', '--jwt-secret-file', 'f', '--jwt-audience', 'a'];
    assert.equal(parse(['--host', '0.0.0.0', ...jwt]).kind, 'run');
  });
});

describe('--auth jwt flags', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--auth', 'jwt', '--jwt-audience', 'a'], /exactly one of --jwt-secret-file/],
    [
      ['--auth', 'jwt', '--jwt-secret-file', 'f', '--jwt-public-key', 'k', '--jwt-audience', 'a'],
      /exactly one of .*got --jwt-secret-file and --jwt-public-key/,
    ],
    [['--auth', 'jwt', '--jwt-secret-file', 'f'], /--auth jwt needs --jwt-audience/],
    [['--auth', 'jwt', '--jwt-secret-file', 'f', '--jwt-audience', ''], /--jwt-audience must not/],
    [['--jwt-issuer', 'https://idp'], /--jwt-issuer goes with --auth jwt/],
    [['--auth', 'token', '--jwt-secret-file', 'f'], /--jwt-secret-file goes with --auth jwt/],
  ];
  for (const [args, message] of cases) {
    it(`refuse ${args.join(' ')}, naming the flag`, () => {
      const parsed = parse(args);
      assert.equal(parsed.kind, 'error');
      assert.match(parsed.kind === 'error' ? parsed.message : '', message);
    });
  }
});

describe('the page', () => {
  const clientDir = fileURLToPath(new URL('../../src/client', import.meta.url));

  it('never inserts text as HTML (no HTML sinks in its source)', () => {
    // What the shell prints reaches the page outside the terminal as titles, link tips and
    // notices; an HTML sink there would be the WeTTY class of XSS.
    const sinks =
      /\.(?:innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML|document\.write|\.srcdoc\b|createContextualFragment|parseFromString|\beval\(|new Function\(/;
    const files = readdirSync(clientDir).filter((name) => /\.(?:ts|html)$/.test(name));
    assert.ok(files.length > 3, 'the page sources were found');
    for (const name of files) {
      const lines = readFileSync(join(clientDir, name), 'utf8').split('\n');
      lines.forEach((line, index) => {
        const code = line.replace(/\/\/.*$/, '');
        assert.doesNotMatch(code, sinks, `${name}:${index + 1}: ${line.trim()}`);
      });
    }
  });
});
