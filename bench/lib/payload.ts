// A large, deterministic payload for floods: "random" bytes as one base64 line, cached in .bench.
// The same bytes and file name as the throughput case's input, so one copy serves both.
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface PayloadFile {
  readonly path: string;
  /** Its size in bytes (base64 of `count` bytes, no newline). */
  readonly size: number;
  readonly sha256: string;
}

/** AES-256-CTR over `count` zero bytes (fixed key), written once as base64 under `dataDir`. */
export async function base64RandomFile(dataDir: string, count: number): Promise<PayloadFile> {
  const dir = join(dataDir, 'data');
  const path = join(dir, `random-${count}.b64`);
  const size = Math.ceil(count / 3) * 4;
  if (!existsSync(path) || statSync(path).size !== size) {
    await mkdir(dir, { recursive: true });
    const cipher = createCipheriv('aes-256-ctr', Buffer.alloc(32, 7), Buffer.alloc(16, 0));
    const bytes = Buffer.concat([cipher.update(Buffer.alloc(count)), cipher.final()]);
    await writeFile(`${path}.tmp`, bytes.toString('base64'));
    await rename(`${path}.tmp`, path);
  }
  const sha256 = createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
  return { path, size, sha256 };
}
