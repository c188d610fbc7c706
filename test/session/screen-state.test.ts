// The exact screen for pages that join or come back after more output than the replay holds
// (docs/screen-state.md): a real bash, real WebSockets, the server's headless terminals.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import headless from '@xterm/headless';
import { V1Client } from '../helpers/clients.js';
import { descendants } from '../helpers/processes.js';
import { startServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait-for.js';

const SHELL = ['/bin/bash', '--norc', '--noprofile'];
const REPLAY = 64 * 1024;
/** The alternate screen with application cursor keys, a title, 1.5 MB of output, a mark. */
const SCENE =
  "printf '\\e]2;scene-title\\a\\e[?1049h\\e[?1h'; head -c 1500000 /dev/zero | tr '\\0' x; " +
  "printf '\\e[2J\\e[5;10HMARK'; sleep 0.2; printf '\\e[20;1Hscene-%s' done; read -r -s -t 600\r";

/** What a page that restored `page`'s snapshot and then its output shows. */
async function restored(page: V1Client): Promise<InstanceType<typeof headless.Terminal>> {
  const snapshot = page.snapshots[0];
  assert.ok(snapshot !== undefined, 'a snapshot');
  const term = new headless.Terminal({
    cols: snapshot.cols,
    rows: snapshot.rows,
    allowProposedApi: true,
  });
  const answers: string[] = [];
  term.onData((data) => answers.push(data));
  await new Promise<void>((resolve) => term.write(snapshot.text + page.text(), resolve));
  assert.deepEqual(answers, [], 'restoring made the terminal answer');
  return term;
}

function cell(term: InstanceType<typeof headless.Terminal>, row: number, col: number): string {
  return (
    term.buffer.active
      .getLine(row)
      ?.translateToString(true)
      .slice(col, col + 4) ?? ''
  );
}

describe('screen state', () => {
  let server: TestServer;
  let owner: V1Client;
  let sessionId: string;
  const baseline = descendants().length;

  before(async () => {
    server = await startServer({ userShellCommand: SHELL, replayBufferBytes: REPLAY });
    owner = new V1Client(server.wsUrl, { credential: TEST_TOKEN, events: true, snapshot: true });
    sessionId = (await owner.waitForHello()).sessionId;
    owner.sendInput(SCENE);
    await owner.waitForText(/scene-done/, { timeout: 60_000 });
  });
  after(async () => {
    owner.close();
    await owner.closed;
    await server.close();
    await waitFor(() => descendants().length === baseline, { message: 'no stray processes' });
  });

  it('gives a page that joins after 1.5 MB the alternate screen, its mark and its key modes', async () => {
    const page = new V1Client(server.wsUrl, {
      credential: TEST_TOKEN,
      attach: sessionId,
      events: true,
      snapshot: true,
    });
    const hello = await page.waitForHello();
    assert.equal(hello.snapshot, true);
    assert.equal(hello.lostBytes, 0);
    await waitFor(() => page.snapshots.length === 1, { message: 'the snapshot' });
    const snapshot = page.snapshots[0];
    assert.equal(snapshot?.offset, hello.offset);
    assert.ok(hello.offset > 1_500_000, `the snapshot is taken at ${hello.offset}`);
    const term = await restored(page);
    assert.equal(term.buffer.active.type, 'alternate');
    assert.equal(cell(term, 4, 9), 'MARK');
    assert.equal(cell(term, 19, 0), 'scen');
    assert.equal(term.modes.applicationCursorKeysMode, true);
    assert.ok(snapshot?.text.includes('\x1b]2;scene-title\x07'), 'the title is in the snapshot');
    page.close();
    await page.closed;
  });

  it('gives a page that does not take snapshots the replay and its lost bytes, as before', async () => {
    const page = new V1Client(server.wsUrl, { credential: TEST_TOKEN, attach: sessionId });
    const hello = await page.waitForHello();
    assert.equal(hello.snapshot, undefined);
    assert.ok(hello.lostBytes > 1_000_000, `lostBytes ${hello.lostBytes}`);
    assert.equal(page.snapshots.length, 0);
    page.close();
    await page.closed;
  });

  it('gives a page that resumes from before the replay the screen, and the next output live', async () => {
    const page = new V1Client(server.wsUrl, {
      credential: TEST_TOKEN,
      resume: { sessionId, offset: 10 },
      events: true,
      snapshot: true,
    });
    const hello = await page.waitForHello();
    assert.equal(hello.snapshot, true);
    await waitFor(() => page.snapshots.length === 1, { message: 'the snapshot' });
    owner = page; // the resume took the owner's place
    const term = await restored(page);
    assert.equal(term.buffer.active.type, 'alternate');
    assert.equal(cell(term, 4, 9), 'MARK');
    // Nothing was typed into the shell by any restore: `read` still waits for its line.
    page.sendInput('typed-after\recho "read-$REPLY"\r');
    await page.waitForText(/read-typed-after/);
  });

  it('names the title in the session list', async () => {
    const response = await fetch(`${server.httpUrl}api/sessions`, {
      headers: { Authorization: `Bearer ${TEST_TOKEN}` },
    });
    const body = (await response.json()) as { sessions: Array<{ id: string; title?: string }> };
    assert.equal(body.sessions.find((session) => session.id === sessionId)?.title, 'scene-title');
  });
});

describe('screen state off', () => {
  it('gives a page that asks for snapshots the replay and its lost bytes', async () => {
    const baseline = descendants().length;
    const server = await startServer({
      userShellCommand: SHELL,
      replayBufferBytes: REPLAY,
      screenState: false,
    });
    try {
      const owner = new V1Client(server.wsUrl, { credential: TEST_TOKEN, snapshot: true });
      const { sessionId } = await owner.waitForHello();
      owner.sendInput("head -c 300000 /dev/zero | tr '\\0' x; echo; echo flood-$((1+1))\r");
      await owner.waitForText(/flood-2/);
      const page = new V1Client(server.wsUrl, {
        credential: TEST_TOKEN,
        attach: sessionId,
        snapshot: true,
      });
      const hello = await page.waitForHello();
      assert.equal(hello.snapshot, undefined);
      assert.ok(hello.lostBytes > 200_000, `lostBytes ${hello.lostBytes}`);
      await page.waitForText(/flood-2/);
      assert.equal(page.snapshots.length, 0);
      page.close();
      owner.close();
      await Promise.all([page.closed, owner.closed]);
    } finally {
      await server.close();
    }
    await waitFor(() => descendants().length === baseline, { message: 'no stray processes' });
  });
});
