// JWT verification with real keys and real signatures: each key kind, each claim, and the
// classic attacks (alg none, HS/RS key confusion) with hand-crafted tokens.
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignJWT, exportJWK, type JWK } from 'jose';
import { MAX_JWT_LENGTH, createJwtVerifier, type JwtVerdict } from './jwt.js';

const AUDIENCE = 'xterm-js-shell';
const now = (): number => Math.floor(Date.now() / 1000);

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** A token built by hand, so nothing in a library stops a malicious header. */
function craft(header: object, payload: object, sign: (input: string) => string): string {
  const input = `${base64url(header)}.${base64url(payload)}`;
  return `${input}.${sign(input)}`;
}

function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { sub: 'alice', aud: AUDIENCE, exp: now() + 300, iat: now(), ...extra };
}

async function sign(
  key: KeyObject | Uint8Array,
  alg: string,
  payload: Record<string, unknown> = claims(),
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg, ...header }).sign(key);
}

function refused(verdict: JwtVerdict, pattern?: RegExp): void {
  assert.equal(verdict.ok, false, `expected a refusal, got ${JSON.stringify(verdict)}`);
  if (pattern !== undefined && !verdict.ok) {
    assert.match(verdict.reason, pattern);
  }
}

const secret = randomBytes(32);
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const ec256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ec384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const ed = generateKeyPairSync('ed25519');

describe('a JWT signed with a shared secret', () => {
  const verify = createJwtVerifier({ secret, audience: AUDIENCE });

  it('is accepted with its subject', async () => {
    assert.deepEqual(await verify(await sign(secret, 'HS256')), { ok: true, subject: 'alice' });
  });

  it('is refused when signed with another secret', async () => {
    refused(await verify(await sign(randomBytes(32), 'HS256')), /SIGNATURE_VERIFICATION_FAILED/);
  });

  it('is refused with HS384 or HS512 when the secret is too short for them', async () => {
    refused(await verify(await sign(secret, 'HS384')), /ALG_NOT_ALLOWED/);
    refused(await verify(await sign(secret, 'HS512')), /ALG_NOT_ALLOWED/);
  });

  it('is accepted with HS512 when the secret is 64 bytes long', async () => {
    const long = randomBytes(64);
    const verifyLong = createJwtVerifier({ secret: long, audience: AUDIENCE });
    assert.equal((await verifyLong(await sign(long, 'HS512'))).ok, true);
    assert.equal((await verifyLong(await sign(long, 'HS256'))).ok, true);
  });

  it('is refused when it claims RS256, whatever it is signed with', async () => {
    refused(await verify(await sign(rsa.privateKey, 'RS256')), /ALG_NOT_ALLOWED/);
  });

  it('cannot be configured with a secret shorter than 32 bytes', () => {
    assert.throws(
      () => createJwtVerifier({ secret: 'too-short', audience: AUDIENCE }),
      /at least 32 bytes/,
    );
  });
});

describe('a JWT signed with a private key', () => {
  it('is accepted with RS256 and PS256 against the RSA public key in PEM', async () => {
    const verify = createJwtVerifier({ publicKey: rsaPem, audience: AUDIENCE });
    assert.equal((await verify(await sign(rsa.privateKey, 'RS256'))).ok, true);
    assert.equal((await verify(await sign(rsa.privateKey, 'PS512'))).ok, true);
  });

  it('is accepted with ES256 against a P-256 key and refused with another curve', async () => {
    const verify = createJwtVerifier({ publicKey: ec256.publicKey, audience: AUDIENCE });
    assert.equal((await verify(await sign(ec256.privateKey, 'ES256'))).ok, true);
    refused(await verify(await sign(ec384.privateKey, 'ES384')), /ALG_NOT_ALLOWED/);
  });

  it('is accepted with EdDSA against an Ed25519 key', async () => {
    const pem = ed.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const verify = createJwtVerifier({ publicKey: pem, audience: AUDIENCE });
    assert.equal((await verify(await sign(ed.privateKey, 'EdDSA'))).ok, true);
  });

  it('is refused when signed by another key of the same kind', async () => {
    const verify = createJwtVerifier({ publicKey: rsaPem, audience: AUDIENCE });
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    refused(await verify(await sign(other.privateKey, 'RS256')), /SIGNATURE_VERIFICATION_FAILED/);
  });

  it('cannot be configured with a private key, a weak RSA key or garbage', () => {
    const privatePem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    assert.throws(
      () => createJwtVerifier({ publicKey: privatePem, audience: AUDIENCE }),
      /private key/,
    );
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    assert.throws(
      () => createJwtVerifier({ publicKey: weak, audience: AUDIENCE }),
      /at least 2048 bits, got 1024/,
    );
    assert.throws(
      () => createJwtVerifier({ publicKey: 'not a key', audience: AUDIENCE }),
      /not a PEM public key/,
    );
    const secp256k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey;
    assert.throws(
      () => createJwtVerifier({ publicKey: secp256k1, audience: AUDIENCE }),
      /curve secp256k1 is not supported/,
    );
  });
});

describe('a JWT checked against a JWKS', () => {
  async function jwk(key: KeyObject, kid: string): Promise<JWK> {
    return { ...(await exportJWK(key)), kid };
  }

  it('is verified by the key its kid names', async () => {
    const jwks = { keys: [await jwk(rsa.publicKey, 'r1'), await jwk(ec256.publicKey, 'e1')] };
    const verify = createJwtVerifier({ jwks: JSON.stringify(jwks), audience: AUDIENCE });
    assert.equal(
      (await verify(await sign(rsa.privateKey, 'RS256', claims(), { kid: 'r1' }))).ok,
      true,
    );
    assert.equal(
      (await verify(await sign(ec256.privateKey, 'ES256', claims(), { kid: 'e1' }))).ok,
      true,
    );
    refused(await verify(await sign(ec256.privateKey, 'ES256', claims(), { kid: 'nope' })));
    refused(await verify(await sign(secret, 'HS256', claims(), { kid: 'r1' })), /ALG_NOT_ALLOWED/);
  });

  it('cannot hold symmetric or private keys, or be empty', async () => {
    const oct = { kty: 'oct', k: secret.toString('base64url') };
    assert.throws(
      () => createJwtVerifier({ jwks: { keys: [oct] }, audience: AUDIENCE }),
      /key 0 is a symmetric key/,
    );
    const privateJwk = { ...(await exportJWK(ec256.privateKey)), kid: 'p' };
    assert.throws(
      () => createJwtVerifier({ jwks: { keys: [privateJwk] }, audience: AUDIENCE }),
      /key 0 \(kid p\) is a private key/,
    );
    assert.throws(() => createJwtVerifier({ jwks: { keys: [] }, audience: AUDIENCE }), /non-empty/);
    assert.throws(() => createJwtVerifier({ jwks: '{', audience: AUDIENCE }), /not valid JSON/);
  });
});

describe('the classic attacks', () => {
  const payload = claims();

  it('refuses alg none, whatever key kind is configured', async () => {
    const none = craft({ alg: 'none', typ: 'JWT' }, payload, () => '');
    const noneUpper = craft({ alg: 'NONE' }, payload, () => '');
    for (const options of [{ secret }, { publicKey: rsaPem }, { publicKey: ec256.publicKey }]) {
      const verify = createJwtVerifier({ ...options, audience: AUDIENCE });
      refused(await verify(none), /ALG_NOT_ALLOWED/);
      refused(await verify(noneUpper), /ALG_NOT_ALLOWED/);
    }
  });

  it('refuses an HS256 token keyed with the server public key (HS/RS confusion)', async () => {
    const verify = createJwtVerifier({ publicKey: rsaPem, audience: AUDIENCE });
    for (const keyText of [
      rsaPem,
      rsaPem.trim(),
      rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    ]) {
      const forged = craft({ alg: 'HS256', typ: 'JWT' }, payload, (input) =>
        createHmac('sha256', keyText).update(input).digest('base64url'),
      );
      refused(await verify(forged), /ALG_NOT_ALLOWED/);
    }
  });

  it('refuses an HS256 token keyed with a JWKS member (HS/RS confusion)', async () => {
    const member = { ...(await exportJWK(rsa.publicKey)), kid: 'r1' };
    const verify = createJwtVerifier({ jwks: { keys: [member] }, audience: AUDIENCE });
    const forged = craft({ alg: 'HS256', kid: 'r1' }, payload, (input) =>
      createHmac('sha256', JSON.stringify(member)).update(input).digest('base64url'),
    );
    refused(await verify(forged), /ALG_NOT_ALLOWED/);
  });

  it('refuses a token whose signature was stripped or altered', async () => {
    const verify = createJwtVerifier({ secret, audience: AUDIENCE });
    const token = await sign(secret, 'HS256');
    const [header, body] = token.split('.');
    refused(await verify(`${header}.${body}.`));
    const admin = base64url({ ...payload, sub: 'root' });
    refused(await verify(`${header}.${admin}.${token.split('.')[2]}`), /SIGNATURE/);
  });
});

describe('the claims of a JWT', () => {
  const verify = createJwtVerifier({ secret, audience: AUDIENCE, issuer: 'https://idp.example' });
  const valid = (extra: Record<string, unknown> = {}): Record<string, unknown> =>
    claims({ iss: 'https://idp.example', ...extra });

  it('must include exp', async () => {
    const { exp: _exp, ...withoutExp } = valid();
    refused(await verify(await sign(secret, 'HS256', withoutExp)), /"exp"/);
  });

  it('must not be expired beyond the clock tolerance of 30 s', async () => {
    refused(await verify(await sign(secret, 'HS256', valid({ exp: now() - 60 }))), /EXPIRED/);
    assert.equal((await verify(await sign(secret, 'HS256', valid({ exp: now() - 10 })))).ok, true);
  });

  it('must not be used before nbf beyond the clock tolerance', async () => {
    refused(await verify(await sign(secret, 'HS256', valid({ nbf: now() + 120 }))), /"nbf"/);
    assert.equal((await verify(await sign(secret, 'HS256', valid({ nbf: now() + 10 })))).ok, true);
  });

  it('must name this service as audience', async () => {
    refused(await verify(await sign(secret, 'HS256', valid({ aud: 'another-app' }))), /"aud"/);
    const { aud: _aud, ...withoutAud } = valid();
    refused(await verify(await sign(secret, 'HS256', withoutAud)), /"aud"/);
    assert.equal(
      (await verify(await sign(secret, 'HS256', valid({ aud: ['x', AUDIENCE] })))).ok,
      true,
    );
  });

  it('must come from the configured issuer', async () => {
    refused(await verify(await sign(secret, 'HS256', valid({ iss: 'https://evil' }))), /"iss"/);
    const { iss: _iss, ...withoutIss } = valid();
    refused(await verify(await sign(secret, 'HS256', withoutIss)), /"iss"/);
  });

  it('must have a subject that is a non-empty string', async () => {
    const { sub: _sub, ...withoutSub } = valid();
    refused(await verify(await sign(secret, 'HS256', withoutSub)), /"sub"/);
    refused(await verify(await sign(secret, 'HS256', valid({ sub: '' }))), /subject/);
    refused(await verify(await sign(secret, 'HS256', valid({ sub: 42 }))), /"sub"/);
  });

  it('cannot be configured without an audience', () => {
    assert.throws(
      () => createJwtVerifier({ secret } as unknown as Parameters<typeof createJwtVerifier>[0]),
      /options\.audience/,
    );
    assert.throws(
      () => createJwtVerifier({ secret, publicKey: rsaPem, audience: AUDIENCE }),
      /exactly one of .* got secret, publicKey/,
    );
  });
});

describe('malformed credentials', () => {
  const verify = createJwtVerifier({ secret, audience: AUDIENCE });
  const inputs = [
    '',
    'not-a-jwt',
    'a.b',
    'a.b.c',
    'a.b.c.d.e',
    '....',
    `${base64url({ alg: 'HS256' })}.not-json-secret-payload.sig`,
    `eyJ${'A'.repeat(50)}.e30.`,
    `${base64url('a string')}.${base64url({})}.x`,
    '\u0000\uffff\ud800',
    'x'.repeat(MAX_JWT_LENGTH + 1),
  ];

  it('are refused with a reason that never quotes them', async () => {
    for (const input of inputs) {
      const verdict = await verify(input);
      refused(verdict);
      if (!verdict.ok && input.length >= 4) {
        assert.ok(!verdict.reason.includes(input), `reason quotes the input: ${verdict.reason}`);
        assert.ok(!verdict.reason.includes('secret-payload'), verdict.reason);
      }
    }
  });
});
