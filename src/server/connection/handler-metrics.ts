/**
 * What a handler reports for metrics, kept as a small interface so that the handler does not
 * depend on a metrics library; src/server/http/metrics.ts implements it with prom-client.
 * @module
 */
import type { ShellSession } from '../session/session.js';

export type AuthFailureReason = 'refused' | 'timeout' | 'error' | 'throttled';

export interface HandlerMetrics {
  /** A shell started; the implementation may watch the session (bytes, duration). */
  sessionStarted(session: ShellSession): void;
  authFailed(reason: AuthFailureReason): void;
  spawnFailed(): void;
  flowPaused(): void;
  /** A session's recording failed (a full disk): counted once per session. */
  recordingFailed?(): void;
}
