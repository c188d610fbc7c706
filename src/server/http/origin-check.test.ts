// The Origin check on WebSocket upgrades: own host and allowed origins pass, foreign ones do not.
import assert from 'node:assert/strict';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { checkOrigin, isRebindingSafeHost, normaliseOrigin } from './origin-check.js';

/** An upgrade request with these headers (a never-connected socket: no descriptor is opened). */
function request(headers: { origin?: string; host?: string }): IncomingMessage {
  const message = new IncomingMessage(new Socket());
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) {
      message.headers[name] = value;
    }
  }
  return message;
}

const NONE = new Set<string>();

describe('checkOrigin', () => {
  it('allows a request without Origin (not a browser: curl, scripts)', () => {
    assert.deepEqual(checkOrigin(request({ host: 'example.com' }), NONE), { allowed: true });
    assert.deepEqual(checkOrigin(request({}), NONE), { allowed: true });
  });

  const sameHost: Array<[string, string, string]> = [
    ['the same host and port', 'http://127.0.0.1:8765', '127.0.0.1:8765'],
    ['http on its default port written out in Host', 'http://example.com', 'example.com:80'],
    ['https on its default port written out in Host', 'https://example.com', 'example.com:443'],
    ['https on its default port written out in Origin', 'https://example.com:443', 'example.com'],
    ['a Host in another case', 'http://example.com:8765', 'EXAMPLE.com:8765'],
    ['an Origin in another case', 'HTTPS://Example.COM', 'example.com'],
    ['an IPv6 host', 'http://[::1]:8765', '[::1]:8765'],
  ];
  for (const [name, origin, host] of sameHost) {
    it(`allows ${name} (Origin ${origin}, Host ${host})`, () => {
      assert.deepEqual(checkOrigin(request({ origin, host }), NONE), { allowed: true });
    });
  }

  const foreign: Array<[string, string, string | undefined]> = [
    ['another host', 'http://evil.example', 'example.com'],
    ['a subdomain', 'http://a.example.com', 'example.com'],
    ['another port', 'http://example.com:8080', 'example.com:8765'],
    ['another scheme on a port that only fits the other', 'https://example.com', 'example.com:80'],
    ['the literal origin null (sandboxed frames, file pages)', 'null', 'example.com'],
    ['a file: origin', 'file://', 'example.com'],
    ['an origin that is not a URL', 'not a url', 'example.com'],
    ['an Origin without a Host', 'http://example.com', undefined],
  ];
  for (const [name, origin, host] of foreign) {
    it(`refuses ${name}, naming the origin`, () => {
      assert.deepEqual(checkOrigin(request({ origin, host }), NONE), { allowed: false, origin });
    });
  }

  it('allows an origin from the allowed list, written in any equivalent form', () => {
    const allowed = new Set(
      ['https://Console.Example.com:443', 'http://localhost:3000/'].map((origin) => {
        const normalised = normaliseOrigin(origin);
        assert.ok(normalised !== undefined, origin);
        return normalised;
      }),
    );
    for (const origin of [
      'https://console.example.com',
      'https://CONSOLE.example.com:443',
      'http://localhost:3000',
    ]) {
      assert.deepEqual(checkOrigin(request({ origin, host: 'shell.internal:8765' }), allowed), {
        allowed: true,
      });
    }
    for (const origin of ['http://console.example.com', 'https://console.example.com:8443']) {
      assert.deepEqual(checkOrigin(request({ origin, host: 'shell.internal:8765' }), allowed), {
        allowed: false,
        origin,
      });
    }
  });
});

describe('normaliseOrigin', () => {
  for (const [given, expected] of [
    ['https://Example.com:443', 'https://example.com'],
    ['http://example.com:80', 'http://example.com'],
    ['http://example.com:8080', 'http://example.com:8080'],
    ['HTTP://EXAMPLE.COM/', 'http://example.com'],
    ['http://[::1]:8765', 'http://[::1]:8765'],
  ] as const) {
    it(`writes ${given} as ${expected}`, () => {
      assert.equal(normaliseOrigin(given), expected);
    });
  }

  for (const given of ['ftp://example.com', 'file:///etc', 'null', 'example.com', '']) {
    it(`refuses ${JSON.stringify(given)}, which is no http(s) origin`, () => {
      assert.equal(normaliseOrigin(given), undefined);
    });
  }
});

describe('isRebindingSafeHost', () => {
  const none = new Set<string>();
  it('accepts hosts that cannot be rebound: IP addresses and localhost', () => {
    for (const host of [
      '127.0.0.1:8765',
      '10.1.2.3',
      '[::1]:8765',
      'localhost:8765',
      'a.localhost',
    ]) {
      assert.equal(isRebindingSafeHost(host, none), true, host);
    }
    assert.equal(isRebindingSafeHost(undefined, none), true);
  });

  it('refuses a DNS name, unless it is the host of an allowed origin', () => {
    assert.equal(isRebindingSafeHost('evil.example:8765', none), false);
    assert.equal(isRebindingSafeHost('shell.example.com', none), false);
    const allowed = new Set(['https://shell.example.com']);
    assert.equal(isRebindingSafeHost('shell.example.com', allowed), true);
    assert.equal(isRebindingSafeHost('Shell.Example.com:443', allowed), true);
    assert.equal(isRebindingSafeHost('other.example.com', allowed), false);
  });

  it('refuses a Host that is not a host', () => {
    assert.equal(isRebindingSafeHost('exa mple', none), false);
  });
});
