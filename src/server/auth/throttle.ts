/**
 * Slows down credential guessing: failed attempts are counted per peer, and once a peer has used
 * its free attempts each further one waits a doubling delay (capped) before it is even checked.
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net';
import { WebSocket } from 'ws';
import type { Logger } from '../logger.js';
import type { AuthCallback, AuthResult } from './types.js';

export interface AuthThrottleOptions {
  /** Failed attempts a peer may make without any delay. @default 3 */
  readonly freeAttempts?: number;
  /**
   * Seconds the first attempt after the free ones waits; each further failure doubles it.
   * @default 0.5
   */
  readonly baseDelay?: number;
  /**
   * Longest wait, in seconds. Keep it below `authTimeout`, or a peer that has failed often can no
   * longer get in at all, even with the right credential. @default 4
   */
  readonly maxDelay?: number;
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

  /** Milliseconds `key` must wait before its next attempt is checked. */
  waitMs(key: string, nowMs: number): number {
    const record = this._current(key, nowMs);
    if (record === undefined || record.failures < this._freeAttempts) {
      return 0;
    }
    const doublings = Math.min(record.failures - this._freeAttempts, 30);
    const delay = Math.min(this._baseDelayMs * 2 ** doublings, this._maxDelayMs);
    return Math.max(0, record.lastFailureMs + delay - nowMs);
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

function isAccepted(result: unknown): result is AuthResult {
  return (
    result === true ||
    (typeof result === 'object' &&
      result !== null &&
      typeof (result as { identity?: unknown }).identity === 'string')
  );
}

/** Resolves true after `ms`, or false as soon as the socket closes (then nothing is checked). */
function waitWhileOpen(websocket: WebSocket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socketOnClose = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      websocket.off('close', socketOnClose);
      resolve(true);
    }, ms);
    websocket.once('close', socketOnClose);
  });
}

/**
 * Applies a FailureLedger to auth callbacks. Attempts from one peer are checked one after
 * another, so opening many connections at once gains an attacker nothing: each waits its turn
 * and then its delay. A connection that closes while it waits is not checked at all.
 */
export class AuthThrottle {
  private readonly _ledger: FailureLedger;
  /** The last attempt queued per peer; bounded by the connections open at once. */
  private readonly _queues = new Map<string, Promise<void>>();

  constructor(options: AuthThrottleOptions = {}) {
    this._ledger = new FailureLedger(options);
  }

  /** Peers with failures on record. */
  get peers(): number {
    return this._ledger.size;
  }

  /** The callback for one connection from `peerKey` (see `throttleKey`). */
  wrap(callback: AuthCallback, peerKey: string): AuthCallback {
    return (message, websocket, logger) =>
      this._enqueue(peerKey, () => this._attempt(peerKey, callback, message, websocket, logger));
  }

  private _enqueue(peerKey: string, attempt: () => Promise<AuthResult>): Promise<AuthResult> {
    const previous = this._queues.get(peerKey) ?? Promise.resolve();
    const result = previous.then(attempt);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this._queues.set(peerKey, settled);
    void settled.then(() => {
      if (this._queues.get(peerKey) === settled) {
        this._queues.delete(peerKey);
      }
    });
    return result;
  }

  private async _attempt(
    peerKey: string,
    callback: AuthCallback,
    message: string,
    websocket: WebSocket,
    logger: Logger,
  ): Promise<AuthResult> {
    const wait = this._ledger.waitMs(peerKey, Date.now());
    if (wait > 0) {
      logger.info(
        {
          throttleKey: peerKey,
          delayMs: wait,
          failures: this._ledger.failures(peerKey, Date.now()),
        },
        'authentication delayed: earlier attempts from this peer failed',
      );
      if (websocket.readyState !== WebSocket.OPEN || !(await waitWhileOpen(websocket, wait))) {
        return false;
      }
    }
    if (websocket.readyState !== WebSocket.OPEN) {
      return false; // timed out or gone while queued: nothing to check
    }
    let result: AuthResult;
    try {
      result = await callback(message, websocket, logger);
    } catch (error) {
      this._ledger.failed(peerKey, Date.now());
      throw error;
    }
    if (isAccepted(result)) {
      this._ledger.succeeded(peerKey);
    } else {
      this._ledger.failed(peerKey, Date.now());
    }
    return result;
  }
}

function isLoopback(address: string): boolean {
  return (
    (isIPv4(address) && address.startsWith('127.')) ||
    address === '::1' ||
    /^::ffff:127\./i.test(address)
  );
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
 * Who is attempting, for the throttle. The socket's peer address, except when the connection
 * comes from loopback or a UNIX socket, where a reverse proxy (nginx) sits: then the last
 * X-Forwarded-For entry, the address the proxy itself saw (earlier entries are whatever the
 * client sent). The trade-off: a local process can claim any address there and so escape the
 * throttle; the deployment this serves (a UNIX socket with mode 0600) lets only the proxy in.
 *
 * @param remoteAddress the socket's peer; undefined for a UNIX socket
 * @param forwardedFor the request's X-Forwarded-For header(s)
 */
export function throttleKey(
  remoteAddress: string | undefined,
  forwardedFor: string | readonly string[] | undefined,
): string {
  const local = remoteAddress === undefined || isLoopback(remoteAddress);
  if (local && forwardedFor !== undefined) {
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
