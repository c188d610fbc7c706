// Recording: each session becomes an asciicast v2 file that asciinema itself plays back.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { V1Client } from '../helpers/clients.js';
import { startServer, TEST_TOKEN } from '../helpers/server.js';
import { waitFor } from '../helpers/wait-for.js';
import { asciinemaCat } from '../helpers/asciinema.js';

const SHELL = ['/bin/bash', '--norc', '--noprofile'];

describe('session recording', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'xjs-rec-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function recordOneSession(
    recordInput: boolean,
    script: (client: V1Client) => Promise<void>,
  ): Promise<{ file: string; client: V1Client }> {
    const sub = mkdtempSync(join(dir, 'run-'));
    const server = await startServer({ userShellCommand: SHELL, recordDir: sub, recordInput });
    try {
      const client = new V1Client(server.wsUrl, { credential: TEST_TOKEN, cols: 100, rows: 30 });
      const hello = await client.waitForHello();
      await script(client);
      client.sendInput('exit 0\r');
      await client.closed;
      const files = readdirSync(sub);
      assert.equal(files.length, 1);
      const file = join(sub, files[0] as string);
      assert.match(
        files[0] as string,
        new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d-]+\\.\\d{3}Z-${hello.sessionId}\\.cast$`),
      );
      assert.equal(statSync(file).mode & 0o777, 0o600);
      await waitFor(() => readFileSync(file, 'utf8').includes('exit'), {
        message: 'the recording to be flushed',
      });
      return { file, client };
    } finally {
      await server.close();
    }
  }

  it('plays back with `asciinema cat` as the output the client saw', async () => {
    const { file, client } = await recordOneSession(false, async (c) => {
      c.sendInput(
        'printf "rec-%s\\n" $((2*21)); printf "\\xe4\\xb8\\xad\\xf0\\x9f\\x98\\x80\\n"\r',
      );
      await c.waitForText('rec-42');
      c.resize(120, 40);
    });
    const played = await asciinemaCat(file);
    assert.equal(played, client.text());
    assert.match(played, /中😀/);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    const header = JSON.parse(lines[0] as string) as Record<string, unknown>;
    assert.equal(header.version, 2);
    assert.equal(header.width, 100);
    assert.equal(header.height, 30);
    const events = lines.slice(1).map((line) => JSON.parse(line) as [number, string, string]);
    assert.ok(events.some(([, kind, data]) => kind === 'r' && data === '120x40'));
    assert.ok(
      events.every(([, kind]) => kind !== 'i'),
      'no input events unless asked',
    );
    const times = events.map(([time]) => time);
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
      'times never go back',
    );
  });

  it('keeps typed secrets out of the file unless input recording is on', async () => {
    const typeSecret = async (c: V1Client): Promise<void> => {
      // Typed only once echo is off, as a person types at a password prompt: typed ahead, the
      // terminal itself would echo it into the output (and the recording).
      c.sendInput(
        'stty -echo; echo "ready-$((1+1))"; read -r secret; stty echo; echo "got ${#secret} chars"\r',
      );
      await c.waitForText('ready-2');
      c.sendInput('hunter2-pass\r');
      await c.waitForText('got 12 chars');
    };
    const plain = await recordOneSession(false, typeSecret);
    assert.ok(!readFileSync(plain.file, 'utf8').includes('hunter2'));
    const withInput = await recordOneSession(true, typeSecret);
    const events = readFileSync(withInput.file, 'utf8').trim().split('\n').slice(1);
    assert.ok(events.some((line) => line.includes('"i"') && line.includes('hunter2-pass')));
  });
});
