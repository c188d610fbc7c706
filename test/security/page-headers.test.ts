// The page's security headers (CSP, framing, sniffing, referrer) on every response, and static
// files served only from the built page, whatever the request path tries.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { get, type IncomingHttpHeaders } from 'node:http';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RawConnection, upgradeRequest } from '../helpers/hostile.js';
import { createShellServer } from '../../src/server/index.js';
import { startServer, type TestServer } from '../helpers/server.js';

const CLIENT_DIR = fileURLToPath(new URL('../../dist/client', import.meta.url));

interface Fetched {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

function fetchPath(server: TestServer, path: string): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    get(`${server.httpUrl.replace(/\/$/, '')}${path}`, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks),
        }),
      );
    }).on('error', reject);
  });
}

/** Sends `target` as the request-target byte for byte; returns the status and body. */
async function rawGet(port: number, target: string): Promise<{ status: number; body: string }> {
  const connection = await RawConnection.open(port);
  try {
    connection.write(
      Buffer.from(
        `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
        'latin1',
      ),
    );
    await connection.waitClosed();
    const head = await connection.responseHead();
    return { status: head?.status ?? 0, body: head?.rest.toString('latin1') ?? '' };
  } finally {
    connection.destroy();
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

function assertSecurityHeaders(headers: IncomingHttpHeaders, what: string): void {
  const csp = String(headers['content-security-policy'] ?? '');
  const directives = new Map(
    csp.split(';').map((part) => {
      const [name = '', ...values] = part.trim().split(/\s+/);
      return [name, values.join(' ')] as const;
    }),
  );
  assert.equal(directives.get('default-src'), "'none'", `${what}: CSP default-src`);
  assert.equal(directives.get('script-src'), "'self'", `${what}: CSP script-src`);
  assert.equal(directives.get('connect-src'), "'self'", `${what}: CSP connect-src`);
  assert.equal(directives.get('frame-ancestors'), "'none'", `${what}: CSP frame-ancestors`);
  assert.equal(directives.get('base-uri'), "'none'", `${what}: CSP base-uri`);
  assert.equal(directives.get('form-action'), "'none'", `${what}: CSP form-action`);
  for (const [name, value] of directives) {
    assert.ok(!/\*|https?:|unsafe-eval/.test(value), `${what}: CSP ${name} allows ${value}`);
  }
  assert.equal(headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
  assert.equal(headers['referrer-policy'], 'no-referrer', `${what}: Referrer-Policy`);
  assert.equal(headers['x-frame-options'], 'DENY', `${what}: X-Frame-Options`);
}

describe('the page headers', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ auth: 'none' });
  });
  after(() => server.close());

  it('allow only our own assets and no framing on the page', async () => {
    const page = await fetchPath(server, '/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assertSecurityHeaders(page.headers, '/');
  });

  it('let only the origins given as frameAncestors frame the page', async () => {
    const framed = await startServer({
      auth: 'none',
      frameAncestors: ['https://Console.Example.com', 'http://127.0.0.1:8080'],
    });
    try {
      const { headers } = await fetchPath(framed, '/');
      const csp = String(headers['content-security-policy']);
      assert.match(
        csp,
        /; frame-ancestors https:\/\/console\.example\.com http:\/\/127\.0\.0\.1:8080$/,
      );
      assert.match(csp, /^default-src 'none'; script-src 'self';/, 'the rest of the CSP stays');
      // X-Frame-Options cannot name origins: with it, browsers without CSP would refuse them.
      assert.equal(headers['x-frame-options'], undefined);
      assert.equal(headers['x-content-type-options'], 'nosniff');
    } finally {
      await framed.close();
    }
    assert.throws(
      () => createShellServer({ auth: 'none', frameAncestors: ['console.example.com'] }),
      /options\.frameAncestors: not an http\(s\) origin: console\.example\.com/,
    );
  });

  it('are the same on every asset the page loads', async () => {
    const html = (await fetchPath(server, '/')).body.toString('utf8');
    // data: URLs (an empty favicon) are inline, not fetched; the CSP's img-src allows them.
    const references = [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)]
      .map((match) => String(match[1]))
      .filter((reference) => !reference.startsWith('data:') && !reference.startsWith('#'));
    assert.ok(references.length > 0, 'the page references its assets');
    for (const reference of references) {
      assert.ok(
        !/^(?:[a-z]+:)?\/\//i.test(reference),
        `the page loads ${reference} from another origin, which the CSP would block`,
      );
      const asset = await fetchPath(server, `/${reference}`);
      assert.equal(asset.status, 200, reference);
      assertSecurityHeaders(asset.headers, String(reference));
    }
  });

  it('leave no inline script in the page, which script-src would block', async () => {
    const html = (await fetchPath(server, '/')).body.toString('utf8');
    for (const tag of html.match(/<script\b[^>]*>/g) ?? []) {
      assert.match(tag, /\bsrc="/, `inline script: ${tag}`);
    }
    assert.doesNotMatch(html, /\son[a-z]+="/i, 'inline event handler attribute');
  });

  it('are on error responses and /healthz too', async () => {
    assertSecurityHeaders((await fetchPath(server, '/no-such-file')).headers, '404');
    assertSecurityHeaders((await fetchPath(server, '/healthz')).headers, '/healthz');
  });
});

describe('static files', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ auth: 'none' });
  });
  after(() => server.close());

  it('are exactly the built page files', async () => {
    const files = filesUnder(CLIENT_DIR);
    assert.ok(files.length > 1);
    for (const file of files) {
      const path = `/${relative(CLIENT_DIR, file)}`;
      const served = await fetchPath(server, path);
      assert.equal(served.status, 200, path);
      assert.ok(served.body.equals(readFileSync(file)), `${path} served as built`);
    }
  });

  it('never come from outside the built page, whatever the path tries', async () => {
    const targets = [
      '/../package.json',
      '/../../../../etc/passwd',
      '/%2e%2e/package.json',
      '/%2E%2E/%2E%2E/%2E%2E/etc/passwd',
      '/.%2e/package.json',
      '/assets/..%2f..%2fpackage.json',
      '/assets/%2e%2e%2f%2e%2e%2fpackage.json',
      '/assets/..%5c..%5cpackage.json',
      '/assets/..\\..\\package.json',
      '/..\\..\\package.json',
      '/assets/../../package.json',
      '/assets/../assets/../../README.md',
      '/....//....//package.json',
      '/%c0%ae%c0%ae/package.json',
      '/%252e%252e/package.json',
      'http://127.0.0.1/../package.json',
      'http://evil.example/etc/passwd',
      '//etc/passwd',
      '///etc/passwd',
      'file:///etc/passwd',
      '/index.html%00',
      '/index.html%00.js',
      '/%00',
      '/package.json',
      '/src/server/index.ts',
      '/dist/server/index.js',
      '/node_modules/ws/package.json',
      '/assets',
      '/assets/',
      '*',
    ];
    for (const target of targets) {
      const { status, body } = await rawGet(server.port, target);
      assert.ok(status === 404 || status === 400, `${target}: status ${status}`);
      assert.doesNotMatch(body, /"name": "xterm-js-shell"|root:x:0:0|Copyright|export /, target);
    }
  });

  it('answer a request target that is no URL with 400, and go on serving', async () => {
    // new URL() throws on these; thrown from a request handler, that ended the whole server.
    for (const target of ['//%zz', '//[', '//:99999', '//%', '//a b']) {
      assert.equal((await rawGet(server.port, target.replace(' ', '%20'))).status, 400, target);
      const connection = await RawConnection.open(server.port);
      connection.write(
        upgradeRequest(server.port, {}, `GET ${target.replace(' ', '%20')} HTTP/1.1`),
      );
      assert.equal((await connection.responseHead())?.status, 400, `upgrade ${target}`);
      connection.destroy();
    }
    assert.equal((await fetchPath(server, '/healthz')).status, 200);
  });

  it('refuse a NUL or a control byte in the request line with 400', async () => {
    for (const target of ['/index.html\u0000', '/\u0000/../package.json', '/\u007f']) {
      const { status } = await rawGet(server.port, target);
      assert.equal(status, 400, JSON.stringify(target));
    }
  });

  it('are refused with 405 for methods other than GET and HEAD', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'TRACE', 'OPTIONS']) {
      const connection = await RawConnection.open(server.port);
      connection.write(
        `${method} / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
      const head = await connection.responseHead();
      connection.destroy();
      assert.equal(head?.status, 405, method);
      assert.equal(head?.headers.allow, 'GET, HEAD', method);
    }
    // CONNECT is a proxy's method: node would drop the connection without an answer.
    const connection = await RawConnection.open(server.port);
    connection.write('CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n');
    const head = await connection.responseHead();
    connection.destroy();
    assert.equal(head?.status, 405, 'CONNECT');
  });
});
