/**
 * Plays an asciicast file the way a user would check it.
 * @module
 */
import { spawn as spawnPty } from 'node-pty';

/**
 * `asciinema cat` insists on a terminal (it opens /dev/tty), so it runs on a pty here, with
 * output processing off (-opost) so the pty adds no carriage returns of its own.
 */
export function asciinemaCat(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const pty = spawnPty('/bin/sh', ['-c', 'stty -opost -echo && exec asciinema cat "$0"', file], {
      cols: 200,
      rows: 50,
      encoding: null,
    });
    const chunks: Buffer[] = [];
    pty.onData((data) => chunks.push(data as unknown as Buffer));
    pty.onExit(({ exitCode }) => {
      const output = Buffer.concat(chunks).toString('utf8');
      if (exitCode === 0) resolve(output);
      else reject(new Error(`asciinema cat exited ${exitCode}: ${output.slice(0, 300)}`));
    });
  });
}
