// The main thread's half of screen state against the real worker (from the build): the budget
// holds a session that floods and lets it go once parsed; a worker that dies takes only its
// states with it, and the next session gets a new one.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { ScreenStateHost } from './screen-state.js';

const MIB = 1024 * 1024;

function text(snapshot: { data: Uint8Array } | undefined): string {
  return new TextDecoder().decode(snapshot?.data);
}

describe('ScreenStateHost', () => {
  const errors: string[] = [];
  const host = new ScreenStateHost({ scrollbackLines: 10 }, (message) => errors.push(message));
  after(() => host.close());

  it('holds a session over its budget until the worker has parsed its output', async () => {
    const state = host.open('flood', 80, 24);
    const changes: boolean[] = [];
    state.onHeldChange(() => changes.push(state.held));
    const line = Buffer.from(`${'x'.repeat(79)}\n`);
    const chunk = Buffer.concat(Array.from({ length: 1024 }, () => line)); // 80 KiB
    for (let sent = 0; sent <= 33 * MIB; sent += chunk.length) {
      state.output(chunk);
    }
    assert.equal(state.held, true, 'held at once, past 32 MiB unparsed');
    assert.ok(host.stats.backlogBytes > 32 * MIB);
    const started = Date.now();
    while (state.held && Date.now() - started < 120_000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.deepEqual(changes, [true, false], 'let go once under half');
    state.output(Buffer.from('\x1b[2J\x1b[Hafter the flood'));
    assert.match(text(await state.snapshot()), /after the flood/);
    state.close();
  });

  it('keeps working for new sessions after its worker died, and says so', async () => {
    const before = host.open('before', 80, 24);
    before.output(Buffer.from('kept'));
    assert.match(text(await before.snapshot()), /kept/);
    const worker = (host as unknown as { _worker: Worker })._worker;
    await worker.terminate(); // as if it had crashed
    assert.equal(await before.snapshot(), undefined, 'its states are gone');
    assert.equal(before.lost, true);
    assert.equal(errors.length, 1, errors.join('; '));
    const next = host.open('after', 80, 24);
    next.output(Buffer.from('\x1b]2;new worker\x07fresh'));
    const snapshot = await next.snapshot();
    assert.match(text(snapshot), /fresh/);
    assert.equal(next.title, 'new worker');
    next.close();
  });
});
