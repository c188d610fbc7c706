/**
 * The built-in static token: compared in constant time, generated at random when none is given.
 * @module
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuthCallback } from './types.js';

/** Tokens shorter than this are refused at start: they could be guessed. */
export const MIN_TOKEN_LENGTH = 16;

/** 32 random bytes, URL-safe so it can travel in the page's URL fragment. */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * An auth callback that accepts exactly `token`. Both sides are hashed first so the comparison
 * takes the same time whatever the length or content of the guess.
 */
export function createTokenAuth(token: string): AuthCallback {
  if (typeof token !== 'string' || token.length < MIN_TOKEN_LENGTH) {
    throw new RangeError(`the token must be a string of at least ${MIN_TOKEN_LENGTH} characters`);
  }
  const expected = digest(token);
  return function tokenAuth(message) {
    return timingSafeEqual(digest(message), expected);
  };
}
