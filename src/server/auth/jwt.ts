/**
 * JWT authentication with jose: the credential is a signed token whose `sub` says who
 * authenticated. The algorithms accepted follow from the configured key, never from the token.
 * @module
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import {
  createLocalJWKSet,
  jwtVerify,
  type JSONWebKeySet,
  type JWK,
  type JWSAlgorithm,
  type JWTVerifyGetKey,
} from 'jose';
import type { AuthCallback } from './types.js';

export interface JwtAuthOptions {
  /**
   * A shared secret for HS256 (at least 32 bytes), HS384 (48) and HS512 (64); a string is taken
   * as its UTF-8 bytes. Exactly one of `secret`, `publicKey` and `jwks`.
   */
  readonly secret?: Uint8Array | string;
  /**
   * A public key in PEM (SPKI, PKCS#1 or an X.509 certificate) or a public KeyObject: RSA of at
   * least 2048 bits (RS256..512, PS256..512), EC P-256/P-384/P-521 (ES256/384/512) or Ed25519
   * (EdDSA).
   */
  readonly publicKey?: string | KeyObject;
  /**
   * A JSON Web Key Set of public keys, as an object or JSON text; a token's `kid` and `alg` pick
   * the key. Read from a file: the server never fetches keys over the network.
   */
  readonly jwks?: JSONWebKeySet | string;
  /**
   * The `aud` a token must carry (any one of these). Required: an identity provider signs tokens
   * for many services with the same key, and one minted for another must not open a shell.
   */
  readonly audience: string | readonly string[];
  /** The `iss` a token must carry (any one of these). @default any issuer */
  readonly issuer?: string | readonly string[];
  /** Seconds of clock difference allowed when checking `exp` and `nbf`. @default 30 */
  readonly clockTolerance?: number;
}

export type JwtVerdict =
  { readonly ok: true; readonly subject: string } | { readonly ok: false; readonly reason: string };

/** Longer credentials are refused unparsed: real tokens are a few hundred bytes. */
export const MAX_JWT_LENGTH = 16 * 1024;
/** RFC 7518 3.2: an HMAC key at least as long as the hash. */
const HMAC_MIN_BYTES: ReadonlyArray<readonly [JWSAlgorithm, number]> = [
  ['HS256', 32],
  ['HS384', 48],
  ['HS512', 64],
];
const RSA_ALGORITHMS: readonly JWSAlgorithm[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
];
const EC_ALGORITHMS: Readonly<Record<string, JWSAlgorithm>> = {
  prime256v1: 'ES256',
  secp384r1: 'ES384',
  secp521r1: 'ES512',
};
const JWK_EC_ALGORITHMS: Readonly<Record<string, JWSAlgorithm>> = {
  'P-256': 'ES256',
  'P-384': 'ES384',
  'P-521': 'ES512',
};
const EDDSA_ALGORITHMS: readonly JWSAlgorithm[] = ['EdDSA', 'Ed25519'];

interface VerificationKey {
  readonly key: Uint8Array | KeyObject | JWTVerifyGetKey;
  readonly algorithms: JWSAlgorithm[];
}

function secretKey(secret: Uint8Array | string): VerificationKey {
  const bytes =
    typeof secret === 'string' ? new TextEncoder().encode(secret) : Uint8Array.from(secret);
  const algorithms = HMAC_MIN_BYTES.filter(([, min]) => bytes.length >= min).map(([alg]) => alg);
  if (algorithms.length === 0) {
    throw new RangeError(
      `the secret must be at least 32 bytes (256 bits) for HS256, got ${bytes.length}`,
    );
  }
  return { key: bytes, algorithms };
}

/** The algorithms a public key can verify; throws naming what is wrong with the key. */
function algorithmsForKey(key: KeyObject): JWSAlgorithm[] {
  switch (key.asymmetricKeyType) {
    case 'rsa': {
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < 2048) {
        throw new RangeError(`an RSA key must have at least 2048 bits, got ${bits}`);
      }
      return [...RSA_ALGORITHMS];
    }
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve ?? 'unknown';
      const alg = EC_ALGORITHMS[curve];
      if (alg === undefined) {
        throw new RangeError(`EC curve ${curve} is not supported (P-256, P-384 or P-521)`);
      }
      return [alg];
    }
    case 'ed25519':
      return [...EDDSA_ALGORITHMS];
    default:
      throw new RangeError(
        `${key.asymmetricKeyType ?? 'this'} keys are not supported (RSA, EC or Ed25519)`,
      );
  }
}

function publicKey(input: string | KeyObject): VerificationKey {
  let key: KeyObject;
  if (typeof input === 'string') {
    // createPublicKey would accept a private key and derive its public half; the server must
    // never hold the signing key, so say so instead.
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(input)) {
      throw new TypeError('this is a private key: give the public key (openssl pkey -pubout)');
    }
    try {
      key = createPublicKey(input);
    } catch (error) {
      throw new TypeError(`not a PEM public key or certificate (${(error as Error).message})`);
    }
  } else {
    key = input;
    if (key.type !== 'public') {
      throw new TypeError(`the key must be a public KeyObject, got a ${key.type} one`);
    }
  }
  return { key, algorithms: algorithmsForKey(key) };
}

/** The algorithms one JWKS member can verify; throws naming the member. */
function algorithmsForJwk(jwk: JWK, index: number): JWSAlgorithm[] {
  const name = `key ${index}${typeof jwk.kid === 'string' ? ` (kid ${jwk.kid})` : ''}`;
  if (jwk.kty === 'oct') {
    throw new TypeError(`${name} is a symmetric key: a shared secret goes in the secret option`);
  }
  if (jwk.d !== undefined || jwk.p !== undefined) {
    throw new TypeError(`${name} is a private key: the set must hold public keys only`);
  }
  let algorithms: JWSAlgorithm[];
  try {
    const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    algorithms = algorithmsForKey(key);
  } catch (error) {
    throw new TypeError(`${name}: ${(error as Error).message}`);
  }
  if (jwk.kty === 'EC' && typeof jwk.crv === 'string') {
    algorithms = algorithms.filter((alg) => alg === JWK_EC_ALGORITHMS[jwk.crv as string]);
  }
  if (jwk.alg !== undefined) {
    if (!algorithms.includes(jwk.alg)) {
      throw new TypeError(`${name}: its "alg" ${jwk.alg} does not fit a ${jwk.kty} key`);
    }
    return [jwk.alg];
  }
  return algorithms;
}

function keySet(input: JSONWebKeySet | string): VerificationKey {
  let jwks: unknown = input;
  if (typeof input === 'string') {
    try {
      jwks = JSON.parse(input);
    } catch {
      throw new TypeError('the JWKS is not valid JSON');
    }
  }
  const keys = (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new TypeError('the JWKS must be an object with a non-empty "keys" array');
  }
  const algorithms = new Set<JWSAlgorithm>();
  keys.forEach((jwk: unknown, index) => {
    if (typeof jwk !== 'object' || jwk === null) {
      throw new TypeError(`key ${index} is not an object`);
    }
    for (const alg of algorithmsForJwk(jwk, index)) {
      algorithms.add(alg);
    }
  });
  return { key: createLocalJWKSet(jwks as JSONWebKeySet), algorithms: [...algorithms] };
}

function verificationKey(options: JwtAuthOptions): VerificationKey {
  const given = (['secret', 'publicKey', 'jwks'] as const).filter(
    (name) => options[name] !== undefined,
  );
  if (given.length !== 1) {
    throw new TypeError(
      `exactly one of options.secret, options.publicKey and options.jwks is needed, got ${given.length === 0 ? 'none' : given.join(', ')}`,
    );
  }
  if (options.secret !== undefined) {
    return secretKey(options.secret);
  }
  if (options.publicKey !== undefined) {
    return publicKey(options.publicKey);
  }
  return keySet(options.jwks as JSONWebKeySet | string);
}

function nonEmptyStrings(name: string, value: string | readonly string[] | undefined): string[] {
  const list = typeof value === 'string' ? [value] : [...(value ?? [])];
  if (list.length === 0 || list.some((item) => typeof item !== 'string' || item === '')) {
    throw new TypeError(`options.${name} must be a non-empty string or array of them`);
  }
  return list;
}

/** Why jose refused, in its own words: fixed texts that never quote the token. */
function describeRefusal(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return 'unknown error';
}

/**
 * Checks tokens against the options: signature by the configured key with one of the
 * algorithms that key allows, `exp` (required), `nbf`, `aud` and `iss`, and a `sub`. Throws at
 * once (naming the problem) when the options or the key are unusable.
 */
export function createJwtVerifier(options: JwtAuthOptions): (token: string) => Promise<JwtVerdict> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('options must be an object');
  }
  const { key, algorithms } = verificationKey(options);
  const audience = nonEmptyStrings('audience', options.audience);
  const issuer =
    options.issuer === undefined ? undefined : nonEmptyStrings('issuer', options.issuer);
  const clockTolerance = options.clockTolerance ?? 30;
  if (
    typeof clockTolerance !== 'number' ||
    !Number.isFinite(clockTolerance) ||
    clockTolerance < 0
  ) {
    throw new RangeError('options.clockTolerance must be a number of seconds >= 0');
  }
  const verifyOptions = {
    algorithms,
    audience,
    ...(issuer !== undefined ? { issuer } : {}),
    clockTolerance,
    requiredClaims: ['exp', 'sub'],
  };
  return async function verifyJwt(token) {
    if (token.length > MAX_JWT_LENGTH) {
      return { ok: false, reason: `token longer than ${MAX_JWT_LENGTH} characters` };
    }
    try {
      // The overloads differ by key kind only; the call is the same.
      const { payload } =
        typeof key === 'function'
          ? await jwtVerify(token, key, verifyOptions)
          : await jwtVerify(token, key, verifyOptions);
      if (typeof payload.sub !== 'string' || payload.sub === '') {
        return { ok: false, reason: 'the token has no subject ("sub")' };
      }
      return { ok: true, subject: payload.sub };
    } catch (error) {
      return { ok: false, reason: describeRefusal(error) };
    }
  };
}

/**
 * An auth callback for JWTs: accepts a valid token as `{ identity: sub }` (the handler logs the
 * subject), refuses anything else with the reason logged (never the token). Throws at once when
 * the key or options are unusable, so a bad configuration stops the server from starting.
 * @param options see JwtAuthOptions; `audience` is required
 */
export function createJwtAuth(options: JwtAuthOptions): AuthCallback {
  const verify = createJwtVerifier(options);
  return async function jwtAuth(message, _websocket, logger) {
    const verdict = await verify(message);
    if (verdict.ok) {
      return { identity: verdict.subject };
    }
    logger.info({ reason: verdict.reason }, 'JWT refused');
    return false;
  };
}
