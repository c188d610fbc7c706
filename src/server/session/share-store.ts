/**
 * Share links: a credential of its own for one session and one role (reader or writer), with an
 * expiry, revocable. Only a SHA-256 of each secret is kept, so a memory dump or a log of the
 * store gives nobody a link. Revoking or expiring a link cuts the pages that came through it.
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';

export type ShareRole = 'reader' | 'writer';

export interface Share {
  readonly id: string;
  readonly sessionId: string;
  readonly role: ShareRole;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** A new share and its secret, which exists only in this answer (and the link made from it). */
export interface CreatedShare extends Share {
  readonly secret: string;
}

export type ShareCheck =
  | { readonly ok: true; readonly share: Share }
  | { readonly ok: false; readonly reason: 'unknown' | 'expired' };

interface Entry {
  readonly share: Share;
  readonly timer: NodeJS.Timeout;
}

/** A share secret travels as `xjs-share-` and 43 base64url characters, told apart at a glance. */
export const SHARE_PREFIX = 'xjs-share-';

function digest(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export class ShareStore {
  /** By the digest of the secret. */
  private readonly _byDigest = new Map<string, Entry>();
  private readonly _digestById = new Map<string, string>();

  /** @param _onEnd told when a share stops (revoked or expired): its pages are cut */
  constructor(private readonly _onEnd: (share: Share, why: 'revoked' | 'expired') => void) {}

  create(sessionId: string, role: ShareRole, lifetimeMs: number): CreatedShare {
    const secret = SHARE_PREFIX + randomBytes(32).toString('base64url');
    const now = Date.now();
    const share: Share = {
      id: randomBytes(8).toString('hex'),
      sessionId,
      role,
      createdAt: now,
      expiresAt: now + lifetimeMs,
    };
    const key = digest(secret);
    const timer = setTimeout(() => this._stop(share.id, 'expired'), lifetimeMs).unref();
    this._byDigest.set(key, { share, timer });
    this._digestById.set(share.id, key);
    return { ...share, secret };
  }

  /** Whether `secret` is a live share (expired ones are gone at their time, so: unknown). */
  check(secret: string): ShareCheck {
    const entry = this._byDigest.get(digest(secret));
    if (entry === undefined) {
      return { ok: false, reason: 'unknown' };
    }
    if (entry.share.expiresAt <= Date.now()) {
      this._stop(entry.share.id, 'expired'); // its timer has not run yet
      return { ok: false, reason: 'expired' };
    }
    return { ok: true, share: entry.share };
  }

  get(id: string): Share | undefined {
    const key = this._digestById.get(id);
    return key === undefined ? undefined : this._byDigest.get(key)?.share;
  }

  /** The live shares of a session. */
  ofSession(sessionId: string): Share[] {
    return [...this._byDigest.values()]
      .map((entry) => entry.share)
      .filter((share) => share.sessionId === sessionId);
  }

  /** Revokes a share; false when there is none of that id. */
  revoke(id: string): boolean {
    return this._stop(id, 'revoked');
  }

  /** The session ended: its links go with it. */
  dropSession(sessionId: string): void {
    for (const share of this.ofSession(sessionId)) {
      this._forget(share.id);
    }
  }

  private _stop(id: string, why: 'revoked' | 'expired'): boolean {
    const share = this._forget(id);
    if (share === undefined) {
      return false;
    }
    this._onEnd(share, why);
    return true;
  }

  private _forget(id: string): Share | undefined {
    const key = this._digestById.get(id);
    const entry = key === undefined ? undefined : this._byDigest.get(key);
    if (key === undefined || entry === undefined) {
      return undefined;
    }
    clearTimeout(entry.timer);
    this._byDigest.delete(key);
    this._digestById.delete(id);
    return entry.share;
  }
}
