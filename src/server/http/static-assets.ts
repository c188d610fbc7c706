/**
 * The page and its assets, read once from the built client directory and served from memory:
 * only files that exist there at start can be served (no path ever reaches the file system).
 * @module
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, relative, sep } from 'node:path';
import { gzipSync } from 'node:zlib';

interface Asset {
  readonly body: Buffer;
  /** Compressed on first request, then kept: source maps are seldom asked for at all. */
  gzipped: Buffer | undefined;
  readonly compressible: boolean;
  readonly type: string;
  readonly etag: string;
  /** See cacheControlFor: index.html revalidated, hashed names cached for good. */
  readonly cacheControl: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
};

const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.map', '.txt', '.svg']);

function extension(path: string): string {
  const dot = path.lastIndexOf('.');
  return dot < 0 ? '' : path.slice(dot);
}

/** esbuild's `[name]-[hash]`: 8 base32 characters before the extension (see build-client.mjs). */
const HASHED_NAME = /-[A-Z2-7]{8}\.(?:js|css)$/;

/**
 * index.html is revalidated on every load; the scripts and styles it names carry a content hash,
 * so a new build has new names and the old ones can be cached for good.
 */
function cacheControlFor(urlPath: string): string {
  if (urlPath.endsWith('.html')) {
    return 'no-cache';
  }
  return HASHED_NAME.test(urlPath) ? 'public, max-age=31536000, immutable' : 'public, max-age=3600';
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

export class StaticAssets {
  private readonly _assets = new Map<string, Asset>();

  /** Loads every file under `dir`; throws naming the directory when the page was not built. */
  constructor(dir: string) {
    let files: string[];
    try {
      files = walk(dir);
    } catch {
      throw new Error(`the page is not built: ${dir} is missing (run npm run build)`);
    }
    for (const file of files) {
      const urlPath = '/' + relative(dir, file).split(sep).join('/');
      const ext = extension(file);
      const body = readFileSync(file);
      this._assets.set(urlPath, {
        body,
        gzipped: undefined,
        compressible: COMPRESSIBLE.has(ext),
        type: TYPES[ext] ?? 'application/octet-stream',
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
        cacheControl: cacheControlFor(urlPath),
      });
    }
    if (!this._assets.has('/index.html')) {
      throw new Error(`the page is not built: ${dir} has no index.html (run npm run build)`);
    }
  }

  /** Serves `pathname` when it is an asset; returns false when there is no such asset. */
  serve(pathname: string, request: IncomingMessage, response: ServerResponse): boolean {
    const asset = this._assets.get(pathname === '/' ? '/index.html' : pathname);
    if (asset === undefined) {
      return false;
    }
    response.setHeader('Content-Type', asset.type);
    response.setHeader('Cache-Control', asset.cacheControl);
    response.setHeader('ETag', asset.etag);
    response.setHeader('Vary', 'Accept-Encoding');
    if (request.headers['if-none-match'] === asset.etag) {
      response.writeHead(304).end();
      return true;
    }
    const acceptsGzip = /\bgzip\b/.test(request.headers['accept-encoding'] ?? '');
    let body = asset.body;
    if (acceptsGzip && asset.compressible) {
      asset.gzipped ??= gzipSync(asset.body);
      body = asset.gzipped;
      response.setHeader('Content-Encoding', 'gzip');
    }
    response.setHeader('Content-Length', body.length);
    response.writeHead(200);
    response.end(request.method === 'HEAD' ? undefined : body);
    return true;
  }
}
