/**
 * Who gets a place, counted in two pools so that strangers cannot crowd out the user (F4):
 * connections that have not authenticated yet, bounded in all and per peer, and authenticated
 * ones, bounded by `maxConnections`. When the first pool is full, the oldest connection in it
 * that has not even sent a credential makes room (it is closed and may retry), so a flood of
 * idle sockets keeps turning over while a client that sends its credential at once gets judged.
 * @module
 */

/** One connection waiting to authenticate. */
export interface Candidate {
  readonly peerKey: string;
  /** Closes the connection to make room. */
  evict(): void;
}

interface Entry {
  readonly candidate: Candidate;
  /** It sent a credential, which is being judged: it is not evicted. */
  judging: boolean;
}

export interface AdmissionLimits {
  /** Connections waiting to authenticate, in all. */
  readonly maxUnauthenticated: number;
  /** Of those, from one peer (throttle key). */
  readonly maxUnauthenticatedPerPeer: number;
  /** Authenticated connections. */
  readonly maxConnections: number;
}

export class Admission {
  /** In arrival order (a Map keeps insertion order): the first evictable one is the oldest. */
  private readonly _waiting = new Map<Candidate, Entry>();
  private readonly _perPeer = new Map<string, number>();
  private _authenticated = 0;

  constructor(private readonly _limits: AdmissionLimits) {}

  get unauthenticated(): number {
    return this._waiting.size;
  }

  get authenticated(): number {
    return this._authenticated;
  }

  /**
   * Takes a new connection into the waiting pool, evicting the oldest idle one of its peer (or
   * of all) when a limit is reached. False when every place is taken by connections being
   * judged: then the new one must be refused.
   */
  arrive(candidate: Candidate): boolean {
    const peerCount = this._perPeer.get(candidate.peerKey) ?? 0;
    if (
      peerCount >= this._limits.maxUnauthenticatedPerPeer &&
      !this._evictOldest(candidate.peerKey)
    ) {
      return false;
    }
    if (this._waiting.size >= this._limits.maxUnauthenticated && !this._evictOldest(undefined)) {
      return false;
    }
    this._waiting.set(candidate, { candidate, judging: false });
    this._perPeer.set(candidate.peerKey, (this._perPeer.get(candidate.peerKey) ?? 0) + 1);
    return true;
  }

  /** The connection sent its credential: from now on it is not evicted. */
  judging(candidate: Candidate): void {
    const entry = this._waiting.get(candidate);
    if (entry !== undefined) {
      entry.judging = true;
    }
  }

  /**
   * The credential was accepted: moves it to the authenticated pool. False (and it leaves the
   * waiting pool all the same) when `maxConnections` are served already.
   */
  authenticate(candidate: Candidate): boolean {
    this._leaveWaiting(candidate);
    if (this._authenticated >= this._limits.maxConnections) {
      return false;
    }
    this._authenticated += 1;
    return true;
  }

  /** The connection ended; `authenticated` says which pool it was in. */
  leave(candidate: Candidate, authenticated: boolean): void {
    if (authenticated) {
      this._authenticated -= 1;
    } else {
      this._leaveWaiting(candidate);
    }
  }

  private _leaveWaiting(candidate: Candidate): void {
    if (!this._waiting.delete(candidate)) {
      return;
    }
    const left = (this._perPeer.get(candidate.peerKey) ?? 1) - 1;
    if (left === 0) {
      this._perPeer.delete(candidate.peerKey);
    } else {
      this._perPeer.set(candidate.peerKey, left);
    }
  }

  /** Evicts the oldest connection (of `peerKey`, or of anyone) that sent no credential yet. */
  private _evictOldest(peerKey: string | undefined): boolean {
    for (const entry of this._waiting.values()) {
      if (!entry.judging && (peerKey === undefined || entry.candidate.peerKey === peerKey)) {
        this._leaveWaiting(entry.candidate);
        entry.candidate.evict();
        return true;
      }
    }
    return false;
  }
}
