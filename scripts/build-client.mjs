// Bundles the page (src/client) with esbuild into dist/client: index.html and assets/.
//   node scripts/build-client.mjs [--sizes] [--sourcemap]
//   --sizes: print raw and gzip sizes of each file; --sourcemap: linked source maps, for
//   debugging the page (the default build is the one the package ships: no maps, whose sources
//   it would not ship, and 3 MB less)
// Every asset name carries a content hash (long-cached by the server); index.html, which names
// them, is the one file revalidated. Addons needed after the first paint are split into chunks
// that the page imports on demand.
import { build } from 'esbuild';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { Buffer } from 'node:buffer';
import { basename } from 'node:path';
import { gzipSync } from 'node:zlib';

const outdir = 'dist/client';
// Build beside the old page and swap at the end: a server starting meanwhile sees one whole page.
const staging = `${outdir}.staging-${process.pid}`;
await rm(staging, { recursive: true, force: true });
await mkdir(`${staging}/assets`, { recursive: true });

const result = await build({
  entryPoints: { main: 'src/client/main.ts' },
  bundle: true,
  splitting: true,
  format: 'esm',
  target: ['chrome100', 'firefox100', 'safari15'],
  minify: true,
  sourcemap: process.argv.includes('--sourcemap') ? 'linked' : false,
  legalComments: 'linked',
  entryNames: '[name]-[hash]',
  chunkNames: 'chunks/[name]-[hash]',
  assetNames: '[name]-[hash]',
  outdir: `${staging}/assets`,
  metafile: true,
  logLevel: 'warning',
});

/** The entry's output files, as paths relative to the staging directory. */
const entryOutputs = Object.entries(result.metafile.outputs)
  .filter(([, output]) => output.entryPoint === 'src/client/main.ts' || output.cssBundle)
  .flatMap(([path, output]) => [path, ...(output.cssBundle ? [output.cssBundle] : [])])
  .map((path) => path.slice(staging.length + 1));
const mainJs = entryOutputs.find((path) => /^assets\/main-\w+\.js$/.test(path));
const mainCss = entryOutputs.find((path) => /^assets\/main-\w+\.css$/.test(path));
if (mainJs === undefined || mainCss === undefined) {
  throw new Error(`build-client: esbuild produced no main .js/.css: ${entryOutputs.join(', ')}`);
}

const template = await readFile('src/client/index.html', 'utf8');
const html = template
  .replace('href="assets/main.css"', `href="${mainCss}"`)
  .replace('src="assets/main.js"', `src="${mainJs}"`);
if (!html.includes(mainJs) || !html.includes(mainCss)) {
  throw new Error('build-client: src/client/index.html no longer names assets/main.js and .css');
}
await writeFile(`${staging}/index.html`, html);

await rm(outdir, { recursive: true, force: true });
await rename(staging, outdir);

if (process.argv.includes('--sizes')) {
  const rows = [];
  for (const path of Object.keys(result.metafile.outputs).sort()) {
    if (path.endsWith('.map') || path.endsWith('.txt')) {
      continue;
    }
    const relative = path.slice(staging.length + 1);
    const body = await readFile(`${outdir}/${relative}`);
    const first = relative === mainJs || relative === mainCss;
    rows.push({ file: relative, raw: body.length, gzip: gzipSync(body).length, first });
  }
  const htmlBody = Buffer.from(html);
  rows.unshift({
    file: 'index.html',
    raw: htmlBody.length,
    gzip: gzipSync(htmlBody).length,
    first: true,
  });
  const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
  for (const group of [true, false]) {
    const members = rows.filter((row) => row.first === group);
    console.log(group ? 'first load:' : 'lazy chunks:');
    for (const row of members) {
      console.log(
        `  ${basename(row.file).padEnd(36)} ${kib(row.raw).padStart(10)} ${kib(row.gzip).padStart(10)} gzip`,
      );
    }
    const raw = members.reduce((sum, row) => sum + row.raw, 0);
    const gzip = members.reduce((sum, row) => sum + row.gzip, 0);
    console.log(`  ${'total'.padEnd(36)} ${kib(raw).padStart(10)} ${kib(gzip).padStart(10)} gzip`);
  }
}
