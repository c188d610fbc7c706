// Bundles the page (src/client) with esbuild into dist/client: index.html and assets/.
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';

const outdir = 'dist/client';
await mkdir(`${outdir}/assets`, { recursive: true });
await build({
  entryPoints: { main: 'src/client/main.ts' },
  bundle: true,
  format: 'esm',
  target: ['chrome100', 'firefox100', 'safari15'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  outdir: `${outdir}/assets`,
  logLevel: 'warning',
});
await copyFile('src/client/index.html', `${outdir}/index.html`);
