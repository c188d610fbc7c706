/**
 * Slows down credential guessing without slowing the user: every credential is checked when it
 * arrives and a right one gets in at once, whoever else fails from the same address. A wrong
 * one is answered only after a doubling delay (capped) once a peer has used its free attempts,
 * and a peer may have only a few refusals waiting out their delay: past that its attempts are
 * refused unchecked. So a guesser gets at most `maxHeld` guesses per delay.
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Logger } from '../logger.js';
import { AuthRefusal, isAccepted, type AuthResult } from './types.js';
import { NO_TRUSTED_PROXIES, type TrustedProxies } from './trusted-proxies.js';

export interface AuthThrottleOptions {
  /** Failed attempts a peer may make without any delay. @default 3 */
  readonly freeAttempts?: number;
  /**
   * Seconds the first attempt after the free ones waits; each further failure doubles it.
   * @default 0.5
   */
  readonly baseDelay?: number;
  /**
   * Longest delay of a refusal, in seconds. A refusal still waiting when the client's
   * `authTimeout` runs out is answered as a timeout instead. @default 4
   */
  readonly maxDelay?: number;
  /**
   * Refusals one peer may have waiting out their delay at once; a further attempt from it is
   * refused unchecked (XJS_ERR_AUTH_THROTTLED). With the delays, this bounds a guesser to about
   * `maxHeld / maxDelay` guesses a second. @default 8
   */
  readonly maxHeld?: number;
  /**
   * Peers remembered at once (about 100 bytes each); past this the one seen least recently is
   * forgotten. @default 10000
   */
  readonly maxPeers?: number;
  /** Seconds after its last failure that a peer's failures are forgotten. @default 600 */
  readonly forgetAfter?: number;
}

interface PeerRecord {
  failures: number;
  lastFailureMs: number;
}

function positiveNumber(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) {
    return fallback;
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`options.authThrottle.${name} must be a number >= 0 (got ${value})`);
  }
  return value;
}

function wholeNumber(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) {
    return fallback;
  }
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(
      `options.authThrottle.${name} must be a whole number >= 1 (got ${String(value)})`,
    );
  }
  return value;
}

/**
 * The bookkeeping alone, with time passed in: how long a peer must wait, and what a failure or
 * a success changes. Bounded: at most `maxPeers` records, least recently failed evicted first.
 */
export class FailureLedger {
  private readonly _peers = new Map<string, PeerRecord>();
  private readonly _freeAttempts: number;
  private readonly _baseDelayMs: number;
  private readonly _maxDelayMs: number;
  private readonly _maxPeers: number;
  private readonly _forgetAfterMs: number;

  constructor(options: AuthThrottleOptions = {}) {
    this._freeAttempts = Math.floor(positiveNumber('freeAttempts', options.freeAttempts, 3));
    this._baseDelayMs = positiveNumber('baseDelay', options.baseDelay, 0.5) * 1000;
    this._maxDelayMs = positiveNumber('maxDelay', options.maxDelay, 4) * 1000;
    this._maxPeers = wholeNumber('maxPeers', options.maxPeers, 10_000);
    this._forgetAfterMs = positiveNumber('forgetAfter', options.forgetAfter, 600) * 1000;
  }

  /** Peers with failures on record. */
  get size(): number {
    return this._peers.size;
  }

  /** Failures on record for `key` (0 once forgotten). */
  failures(key: string, nowMs: number): number {
    return this._current(key, nowMs)?.failures ?? 0;
  }

  /**
   * How long the refusal of a failure just recorded for `key` waits before it is sent: nothing
   * for the free attempts, then the base delay, doubling with each further failure, capped.
   */
  refusalDelayMs(key: string, nowMs: number): number {
    const failures = this._current(key, nowMs)?.failures ?? 0;
    if (failures <= this._freeAttempts) {
      return 0;
    }
    const doublings = Math.min(failures - this._freeAttempts - 1, 30);
    return Math.min(this._baseDelayMs * 2 ** doublings, this._maxDelayMs);
  }

  failed(key: string, nowMs: number): void {
    const record = this._current(key, nowMs) ?? { failures: 0, lastFailureMs: nowMs };
    record.failures += 1;
    record.lastFailureMs = nowMs;
    // Map keeps insertion order: re-inserting makes this peer the most recent.
    this._peers.delete(key);
    this._peers.set(key, record);
    for (const oldest of this._peers.keys()) {
      if (this._peers.size <= this._maxPeers) {
        break;
      }
      this._peers.delete(oldest);
    }
  }

  succeeded(key: string): void {
    this._peers.delete(key);
  }

  private _current(key: string, nowMs: number): PeerRecord | undefined {
    const record = this._peers.get(key);
    if (record !== undefined && nowMs - record.lastFailureMs >= this._forgetAfterMs) {
      this._peers.delete(key);
      return undefined;
    }
    return record;
  }
}

/** Resolves after `ms`, or as soon as `gone` settles (the client left: nothing to answer). */
function holdFor(ms: number, gone: Promise<unknown>): Promise<void> {
  return new Promise((resolve) => {
    // Unref'd: a refusal nobody waits for must not keep a process alive.
    const timer = setTimeout(resolve, ms).unref();
    void gone.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Applies a FailureLedger to credential checks: see the module comment. */
export class AuthThrottle {
  private readonly _ledger: FailureLedger;
  private readonly _maxHeld: number;
  /** Refusals waiting out their delay, per peer; an entry exists only while one waits. */
  private readonly _held = new Map<string, number>();

  constructor(options: AuthThrottleOptions = {}) {
    this._ledger = new FailureLedger(options);
    this._maxHeld = wholeNumber('maxHeld', options.maxHeld, 8);
  }

  /** Peers with failures on record. */
  get peers(): number {
    return this._ledger.size;
  }

  /**
   * Checks one credential of `peerKey` with `check`; a refusal waits its delay (or until `gone`
   * settles) before it is returned. Throws AuthRefusal, unchecked, when the peer has `maxHeld`
   * refusals waiting already.
   */
  async attempt(
    peerKey: string,
    check: () => AuthResult | Promise<AuthResult>,
    gone: Promise<unknown>,
    logger: Logger,
  ): Promise<AuthResult> {
    const held = this._held.get(peerKey) ?? 0;
    if (held >= this._maxHeld) {
      logger.info(
        { throttleKey: peerKey, held, failures: this._ledger.failures(peerKey, Date.now()) },
        'authentication refused unchecked: too many failed attempts from this peer are waiting',
      );
      throw new AuthRefusal(
        'XJS_ERR_AUTH_THROTTLED',
        `${held} failed attempts from this peer are waiting`,
      );
    }
    let result: AuthResult = false;
    let error: Error | undefined;
    try {
      result = await check();
      if (isAccepted(result)) {
        this._ledger.succeeded(peerKey);
        return result;
      }
    } catch (thrown) {
      error = thrown instanceof Error ? thrown : new Error(`auth callback threw ${typeof thrown}`);
    }
    this._ledger.failed(peerKey, Date.now());
    const delay = this._ledger.refusalDelayMs(peerKey, Date.now());
    if (delay > 0) {
      logger.info(
        {
          throttleKey: peerKey,
          delayMs: delay,
          failures: this._ledger.failures(peerKey, Date.now()),
        },
        'authentication refused; the answer is delayed: earlier attempts from this peer failed',
      );
      this._held.set(peerKey, (this._held.get(peerKey) ?? 0) + 1);
      try {
        await holdFor(delay, gone);
      } finally {
        const left = (this._held.get(peerKey) ?? 1) - 1;
        if (left === 0) {
          this._held.delete(peerKey);
        } else {
          this._held.set(peerKey, left);
        }
      }
    }
    if (error !== undefined) {
      throw error;
    }
    return result;
  }
}

/** The first 64 bits of an IPv6 address as `a:b:c:d::/64`: one site or host gets one key. */
function ipv6Prefix(address: string): string {
  let text = address.split('%')[0] ?? address;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const groups = tail === undefined ? headGroups : [...headGroups, ...zeros, ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((group) => parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}

/** One key per IPv4 address, one per IPv6 /64 (a single host can hold a whole /64). */
function addressKey(address: string): string | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) {
    return mapped[1];
  }
  if (isIPv4(address)) {
    return address;
  }
  if (isIPv6(address)) {
    return ipv6Prefix(address);
  }
  return undefined;
}

/**
 * Who is attempting, for the throttle: the socket's peer address, except when that peer is a
 * trusted proxy (nginx on loopback or our UNIX socket, see `--trusted-proxy`): then the last
 * X-Forwarded-For entry, the address the proxy itself saw (earlier entries are whatever the
 * client sent). The header of anyone else is ignored: any local process could claim any
 * address there, and so get fresh free attempts with each one.
 *
 * @param remoteAddress the socket's peer; undefined for a UNIX socket
 * @param forwardedFor the request's X-Forwarded-For header(s)
 */
export function throttleKey(
  remoteAddress: string | undefined,
  forwardedFor: string | readonly string[] | undefined,
  trusted: TrustedProxies = NO_TRUSTED_PROXIES,
): string {
  if (forwardedFor !== undefined && trusted.trusts(remoteAddress)) {
    const joined = typeof forwardedFor === 'string' ? forwardedFor : forwardedFor.join(',');
    const last = joined.split(',').at(-1)?.trim() ?? '';
    const forwarded = addressKey(last);
    if (forwarded !== undefined) {
      return forwarded;
    }
  }
  if (remoteAddress === undefined) {
    return 'unix';
  }
  return addressKey(remoteAddress) ?? remoteAddress;
}
