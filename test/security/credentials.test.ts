// A credential never shows up where it could leak: not in a log line (even at debug, even a
// wrong guess), not in what the server sends back, not in the shell's environment.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SUBPROTOCOL_V1 } from '../../src/protocol/v1.js';
import { LegacyClient, V1Client } from '../helpers/clients.js';
import { runCli, wsAttempt, within } from '../helpers/hostile.js';
import { descendants } from '../helpers/processes.js';
import { startServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait-for.js';

const SHELL = ['/bin/bash', '--norc', '--noprofile'];
/** Wrong guesses that look like real tokens, each distinct so a leak names its path. */
const GUESS_V1 = 'guess-v1-Xq3kP9sLm2vN8rT4wY6z';
const GUESS_LEGACY = 'guess-legacy-Hj5nB7cV1xZ9qW3e';
const GUESS_BAD_HELLO = 'guess-bad-hello-Lp0oK9iJ8uH7yG6t';

describe('credentials in the server logs and answers', () => {
  let server: TestServer;
  const baseline = descendants().length;
  before(async () => {
    server = await startServer({ userShellCommand: SHELL, authThrottle: false });
  });
  after(async () => {
    await server.close();
    await waitFor(() => descendants().length === baseline, { message: 'no stray processes' });
  });

  it('never appear in a log line, at debug level, whether right or wrong', async () => {
    const v1 = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
    await v1.waitForHello();
    v1.sendInput('echo in-$((1+1))\r');
    await v1.waitForText('in-2');
    v1.close();
    const legacy = new LegacyClient(server.wsUrl, { credential: TEST_TOKEN });
    await within(legacy.opened, 'the socket to open');
    legacy.sendInput('echo in-$((2+2))\r');
    await legacy.waitForText('in-4');
    legacy.close();

    const wrongV1 = new V1Client(server.wsUrl, { credential: GUESS_V1 });
    const wrongLegacy = new LegacyClient(server.wsUrl, { credential: GUESS_LEGACY });
    const closes = await within(
      Promise.all([v1.closed, legacy.closed, wrongV1.closed, wrongLegacy.closed]),
      'every connection to close',
    );
    assert.equal(closes[2].code, 4001);
    assert.equal(closes[3].code, 4001);

    await waitFor(() => server.logs.filter((line) => /^closing/.test(line.msg)).length === 4);
    const logText = JSON.stringify(server.logs);
    assert.ok(
      server.logs.some((line) => line.level < 30),
      'lines below info were captured',
    );
    for (const secret of [TEST_TOKEN, GUESS_V1, GUESS_LEGACY]) {
      assert.ok(!logText.includes(secret), `the logs contain ${secret}`);
    }
    assert.ok(!JSON.stringify(wrongV1.error).includes(GUESS_V1), 'the error echoes the guess');
    assert.ok(!wrongLegacy.frames.join('').includes(GUESS_LEGACY), 'the error echoes the guess');
  });

  it('never appear in a protocol error about the hello that carried them', async () => {
    for (const body of [
      `{"credential":"${GUESS_BAD_HELLO}","cols":0,"rows":24}`,
      `{"credential":"${GUESS_BAD_HELLO}","cols":80,"rows":24`,
      `{"credential":"${GUESS_BAD_HELLO}","cols":80,"rows":24,"resume":{"sessionId":"${GUESS_BAD_HELLO}","offset":0}}`,
    ]) {
      const attempt = wsAttempt(server.wsUrl, [SUBPROTOCOL_V1]);
      await within(attempt.opened, 'the socket to open');
      attempt.socket.send(Buffer.concat([Buffer.from([0x00]), Buffer.from(body)]));
      const outcome = await within(attempt.outcome, 'the server to close');
      assert.equal(outcome.code, 4003, body);
      assert.ok(!outcome.reason.includes(GUESS_BAD_HELLO), outcome.reason);
      assert.ok(!outcome.messages.join('').includes(GUESS_BAD_HELLO), 'the error frame echoes it');
    }
    await waitFor(() => server.logs.filter((line) => line.msg === 'protocol error').length >= 3);
    assert.ok(!JSON.stringify(server.logs).includes(GUESS_BAD_HELLO), 'the logs contain it');
  });
});

describe('the token of the command', () => {
  const token = 'env-token-Vb4Nm7Qw2Er5Ty8Ui1Op';
  let cli: ReturnType<typeof runCli>;
  let url: string;
  const baseline = descendants().length;
  before(async () => {
    cli = runCli(['--port', '0', '--log-level', 'debug', '--', ...SHELL], {
      XTERM_JS_SHELL_TOKEN: token,
    });
    url = `ws://127.0.0.1:${await cli.port()}/`;
  });
  after(async () => {
    assert.equal(await cli.stop(), 0, cli.stderr());
    await waitFor(() => descendants().length === baseline, { message: 'no stray processes' });
  });

  it('is not printed when it came from the environment', () => {
    assert.ok(!cli.stdout().includes(token), cli.stdout());
  });

  it('is not in the environment of the shell it starts', async () => {
    const client = new V1Client(url, { credential: token });
    await client.waitForHello();
    client.sendInput('env; echo env-$((40+2))-done\r');
    const text = await client.waitForText('env-42-done');
    assert.match(text, /\bPATH=/, 'env ran');
    assert.ok(!text.includes(token), 'the shell sees the token');
    assert.ok(!text.includes('XTERM_JS_SHELL_'), 'the shell sees a server variable');
    client.close();
    await within(client.closed, 'the connection to close');
  });

  it('is not in its log lines at debug level', async () => {
    await waitFor(() => cli.stderr().includes('closing the WebSocket connection'));
    assert.match(cli.stderr(), /"level":2\d,/, 'lines below info were written');
    assert.ok(!cli.stderr().includes(token), 'the logs contain the token');
  });
});
