// JWT authentication end to end: a valid token opens a shell and its subject is logged (the
// token never), bad tokens get 4001, and the command's --jwt-* flags load keys or exit 2.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT, exportJWK } from 'jose';
import { createJwtAuth, type HandlerResult } from '../../src/server/index.js';
import { LegacyClient, V1Client } from '../helpers/clients.js';
import { runCli, within } from '../helpers/hostile.js';
import { descendants } from '../helpers/processes.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait-for.js';

const SHELL = ['/bin/bash', '--norc', '--noprofile'];
const AUDIENCE = 'xterm-js-shell';
const ISSUER = 'https://idp.example';
const secret = randomBytes(32);
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });

function token(
  claims: Record<string, unknown> = {},
  alg = 'HS256',
  key: Uint8Array | typeof rsa.privateKey = secret,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload = { sub: 'alice', aud: AUDIENCE, iss: ISSUER, iat: now, exp: now + 300, ...claims };
  return new SignJWT(payload).setProtectedHeader({ alg, kid: 'k1' }).sign(key);
}

function unsigned(): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const exp = Math.floor(Date.now() / 1000) + 300;
  return `${part({ alg: 'none' })}.${part({ sub: 'root', aud: AUDIENCE, iss: ISSUER, exp })}.`;
}

describe('JWT authentication', () => {
  let server: TestServer;
  const ends: HandlerResult[] = [];
  const used: string[] = [];
  const baseline = descendants().length;
  before(async () => {
    server = await startServer({
      userShellCommand: SHELL,
      auth: createJwtAuth({ secret, audience: AUDIENCE, issuer: ISSUER }),
      authThrottle: false, // many refusals in a row here; the throttle has its own suite
    });
    server.server.on('connection-end', (result: HandlerResult) => ends.push(result));
  });
  after(async () => {
    await server.close();
    await waitFor(() => descendants().length === baseline, { message: 'no stray processes' });
  });

  it('opens a shell for a valid token and logs its subject as the identity', async () => {
    const jwt = await token();
    used.push(jwt);
    const client = new V1Client(server.wsUrl, { credential: jwt });
    await client.waitForHello();
    client.sendInput('echo jwt-$((3*3))\r');
    await client.waitForText('jwt-9');
    client.close();
    await within(client.closed, 'the connection to close');
    const success = server.logs.find((line) => line.msg === 'authentication succeeded');
    assert.equal(success?.identity, 'alice');
    await waitFor(() => ends.length === 1);
    assert.equal(ends[0]?.identity, 'alice');
  });

  it('works with the legacy format too, the token as first frame', async () => {
    const jwt = await token({ sub: 'bob' });
    used.push(jwt);
    const client = new LegacyClient(server.wsUrl, { credential: jwt });
    await within(client.opened, 'the socket to open');
    client.sendInput('echo legacy-jwt-$((4*4))\r');
    await client.waitForText('legacy-jwt-16');
    client.close();
    await within(client.closed, 'the connection to close');
    assert.ok(server.logs.some((line) => line.identity === 'bob'));
  });

  it('refuses bad tokens with 4001 and logs why, starting no shell', async () => {
    // The earlier tests' shells end after their sockets close: wait, so none is counted here.
    await waitFor(() => descendants().length === baseline, { message: 'earlier shells to end' });
    const started = (): number => server.logs.filter((line) => line.msg === 'shell started').length;
    const shellsBefore = started();
    const bad: Array<[string, RegExp]> = [
      [await token({ exp: Math.floor(Date.now() / 1000) - 120 }), /EXPIRED/],
      [await token({ aud: 'another-app' }), /"aud"/],
      [await token({ iss: 'https://evil.example' }), /"iss"/],
      [await token({ sub: undefined }), /"sub"/],
      [await token({}, 'HS256', randomBytes(32)), /SIGNATURE/],
      [await token({}, 'RS256', rsa.privateKey), /ALG_NOT_ALLOWED/],
      [unsigned(), /ALG_NOT_ALLOWED/],
      ['not.a.jwt', /JWS_INVALID|JWT_INVALID/],
    ];
    for (const [jwt, reason] of bad) {
      used.push(jwt);
      const client = new V1Client(server.wsUrl, { credential: jwt });
      const closed = await waitFor(() => client.closeInfo, { message: `a refusal (${reason})` });
      assert.deepEqual(closed, { code: 4001, reason: 'Authentication failed' });
      assert.equal(descendants().length, baseline, 'a shell runs for a bad token');
      assert.equal(started(), shellsBefore, 'a shell started for a bad token');
      const refusal = server.logs.filter((line) => line.msg === 'JWT refused').at(-1);
      assert.match(String(refusal?.reason), reason);
    }
  });

  it('never writes a token to the log', () => {
    const logText = JSON.stringify(server.logs);
    for (const jwt of used) {
      // The signature alone would be enough to replay a token.
      const signature = jwt.split('.')[2] ?? '';
      assert.ok(!logText.includes(jwt), `the logs contain a token`);
      assert.ok(signature.length < 8 || !logText.includes(signature), 'a signature');
    }
  });
});

describe('xterm-js-shell --auth jwt', { concurrency: 3 }, () => {
  let dir: string;
  const files: Record<string, string> = {};
  const baseline = descendants().length;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xjs-jwt-'));
    const write = (name: string, content: string | Buffer): string => {
      const path = join(dir, name);
      writeFileSync(path, content, { mode: 0o600 });
      return path;
    };
    files.secret = write('secret', Buffer.concat([secret, Buffer.from('\n')])); // as echo writes it
    files.short = write('short', 'only-twenty-bytes-xx\n');
    files.publicKey = write('public.pem', rsa.publicKey.export({ type: 'spki', format: 'pem' }));
    files.privateKey = write(
      'private.pem',
      rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    files.garbage = write('garbage.pem', 'hello\n');
    files.jwks = write(
      'jwks.json',
      JSON.stringify({ keys: [{ ...(await exportJWK(rsa.publicKey)), kid: 'k1' }] }),
    );
    files.octJwks = write('oct.json', JSON.stringify({ keys: [{ kty: 'oct', k: 'AAAA' }] }));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await waitFor(() => descendants().length === baseline, { message: 'no stray processes' });
  });

  for (const [flag, file, alg] of [
    ['--jwt-secret-file', 'secret', 'HS256'],
    ['--jwt-public-key', 'publicKey', 'RS256'],
    ['--jwt-jwks-file', 'jwks', 'PS256'],
  ] as const) {
    it(`serves shells to tokens checked with ${flag}`, async () => {
      const cli = runCli([
        '--port',
        '0',
        '--auth',
        'jwt',
        flag,
        files[file] as string,
        '--jwt-audience',
        AUDIENCE,
        '--jwt-issuer',
        ISSUER,
        '--',
        ...SHELL,
      ]);
      let stopped: number | string;
      try {
        const port = await cli.port();
        assert.doesNotMatch(cli.stdout(), /#token=/);
        const jwt = await token({ sub: 'carol' }, alg, alg === 'HS256' ? secret : rsa.privateKey);
        const client = new V1Client(`ws://127.0.0.1:${port}/`, { credential: jwt });
        await client.waitForHello();
        client.close();
        await within(client.closed, 'the connection to close');
        await waitFor(() => cli.stderr().includes('"identity":"carol"'));
        assert.ok(!cli.stderr().includes(jwt));
      } finally {
        stopped = await cli.stop();
      }
      assert.equal(stopped, 0, cli.stderr());
    });
  }

  const refusals: Array<[string, [string, string], RegExp]> = [
    [
      'a missing key file',
      ['--jwt-secret-file', '/nonexistent/secret'],
      /--jwt-secret-file: cannot read .*ENOENT/,
    ],
    [
      'a secret shorter than 32 bytes',
      ['--jwt-secret-file', 'short'],
      /--jwt-secret-file: .*at least 32 bytes.*got 20/,
    ],
    ['a private key', ['--jwt-public-key', 'privateKey'], /--jwt-public-key: .*private key/],
    [
      'a file that is no key',
      ['--jwt-public-key', 'garbage'],
      /--jwt-public-key: .*not a PEM public key/,
    ],
    ['a JWKS with a shared secret', ['--jwt-jwks-file', 'octJwks'], /--jwt-jwks-file: .*symmetric/],
    ['a JWKS that is no JSON', ['--jwt-jwks-file', 'garbage'], /--jwt-jwks-file: .*not valid JSON/],
  ];
  for (const [what, [flag, file], message] of refusals) {
    it(`exits 2 naming the flag for ${what}`, async () => {
      const path = files[file] ?? file;
      const cli = runCli(['--port', '0', '--auth', 'jwt', flag, path, '--jwt-audience', AUDIENCE]);
      assert.equal(await cli.exited, 2, cli.stderr());
      assert.match(cli.stderr(), message);
      assert.equal(cli.stdout(), '');
    });
  }
});
