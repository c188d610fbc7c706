// The built-in token auth: exactly the token passes; short tokens are refused; generated ones are random.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../logger.js';
import { createTokenAuth, generateToken, MIN_TOKEN_LENGTH } from './token.js';

const TOKEN = 'Abc-0123456789_xyz';
const log = createLogger({ level: 'silent' });

/** Asks the callback about `credential`; token auth looks at nothing but the credential. */
function accepts(token: string, credential: string): unknown {
  return createTokenAuth(token)(credential, undefined, log);
}

describe('token auth', () => {
  it('accepts exactly the token', () => {
    assert.equal(accepts(TOKEN, TOKEN), true);
  });

  for (const [name, credential] of [
    ['an empty credential', ''],
    ['a prefix of the token', TOKEN.slice(0, -1)],
    ['the token with one more character', `${TOKEN}x`],
    ['the token twice', TOKEN + TOKEN],
    ['the token in another case', TOKEN.toUpperCase()],
    ['the token with one character changed', `${TOKEN.slice(0, 5)}X${TOKEN.slice(6)}`],
    ['the token with a trailing newline', `${TOKEN}\n`],
    ['the token with leading spaces', `  ${TOKEN}`],
    ['the token as JSON', JSON.stringify({ token: TOKEN })],
  ]) {
    it(`refuses ${name}`, () => {
      assert.equal(accepts(TOKEN, credential ?? ''), false);
    });
  }

  it('compares non-ASCII tokens exactly', () => {
    const token = 'jeton-sécurisé-\u{1f511}-0123';
    assert.equal(accepts(token, token), true);
    assert.equal(accepts(token, token.normalize('NFD')), false);
  });

  it(`refuses to be created with a token shorter than ${MIN_TOKEN_LENGTH} characters`, () => {
    assert.equal(MIN_TOKEN_LENGTH, 16);
    for (const token of ['', 'short', 'x'.repeat(15)]) {
      assert.throws(() => createTokenAuth(token), {
        name: 'RangeError',
        message: /at least 16 characters/,
      });
    }
    assert.equal(accepts('x'.repeat(16), 'x'.repeat(16)), true);
  });

  it('refuses to be created with a token that is not a string', () => {
    assert.throws(() => createTokenAuth(undefined as unknown as string), RangeError);
    assert.throws(() => createTokenAuth(1234567890123456 as unknown as string), RangeError);
  });
});

describe('generateToken', () => {
  it('gives 43 URL-safe characters (32 random bytes)', () => {
    const token = generateToken();
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(token, 'base64url').length, 32);
  });

  it('gives a different token on every call', () => {
    const tokens = new Set(Array.from({ length: 100 }, () => generateToken()));
    assert.equal(tokens.size, 100);
  });

  it('gives a token the token auth accepts', () => {
    const token = generateToken();
    assert.equal(accepts(token, token), true);
  });
});
