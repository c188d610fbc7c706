// Input still waiting for a shell that ends must die with it: when the pty's descriptor closes,
// the kernel gives its number to the next file or socket opened, and bytes written to the old
// number land there (another connection, another shell's pty, a recording).
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawnShell, type ShellProcess } from '../../src/server/process/pty-process.js';
import { shellEnvironment } from '../../src/server/process/shell-env.js';
import { within } from '../helpers/hostile.js';
import { descendants } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait-for.js';

/** Shells that never read their input and end on their own. */
const SHELLS = 8;
const MARKER = 'TYPED-INTO-A-DEAD-SHELL';

describe('input queued for a shell that ends', () => {
  let dir: string;
  const baseline = descendants().length;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'xjs-pty-input-'));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await waitFor(() => descendants().length === baseline, { message: 'no stray processes' });
  });

  for (const forkServer of [false, true]) {
    const how = forkServer ? 'node-pty forked the server' : 'the spawner started the shell';
    it(`is never written to a file opened after the shell ended (${how})`, async () => {
      const files: string[] = [];
      const descriptors: number[] = [];
      let opening = true;
      // Opens files on every turn of the event loop, so that whenever a pty's descriptor closes,
      // the next number the kernel hands out is taken by one of these files.
      const openFiles = (): void => {
        for (let index = 0; index < 4; index++) {
          const path = join(dir, `f${files.length}`);
          files.push(path);
          descriptors.push(openSync(path, 'w'));
        }
        for (const fd of descriptors.splice(0, Math.max(0, descriptors.length - 64))) {
          closeSync(fd);
        }
        if (opening) {
          setImmediate(openFiles);
        }
      };

      // Started together, each sleeping a little longer than the one before: they must all
      // still run when the input is written, even on a loaded machine.
      const shells: ShellProcess[] = await Promise.all(
        Array.from({ length: SHELLS }, (_, index) =>
          spawnShell(['/bin/sh', '-c', `sleep 1.${index}`], {
            cols: 80,
            rows: 24,
            env: shellEnvironment(process.env),
            forkServer,
          }),
        ),
      );
      const exited = shells.map((shell) => new Promise((resolve) => shell.onExit(resolve)));
      // More than the kernel takes before the shell reads: the rest waits here for the shell.
      // (In canonical mode with IMAXBEL the line discipline drops what its 4 KiB line buffer
      // cannot hold, so the kernel swallows a varying amount, often over 100 KB: 1.5 MB each.)
      for (const shell of shells) {
        shell.write(Buffer.from(MARKER.repeat(65_536)));
      }
      assert.ok(
        shells.every((shell) => shell.inputBacklog > 0),
        'input is waiting',
      );
      setImmediate(openFiles);
      try {
        await within(Promise.all(exited), 'every shell to exit', 20_000);
        // Whatever was still queued is written (somewhere) or dropped by now or soon.
        await waitFor(() => shells.every((shell) => shell.inputBacklog === 0), {
          message: 'the queued input to be gone',
        });
      } finally {
        opening = false;
      }
      await new Promise((resolve) => setImmediate(resolve));
      for (const fd of descriptors.splice(0)) {
        closeSync(fd);
      }
      const leaked = files.filter((path) => readFileSync(path, 'latin1').includes(MARKER));
      assert.deepEqual(
        leaked,
        [],
        `${leaked.length} of ${files.length} files got a dead shell's input`,
      );
    });
  }
});
