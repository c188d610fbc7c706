/**
 * Prometheus metrics (prom-client) for `/metrics`: connections, sessions, detached sessions,
 * auth failures by reason, bytes in and out, flow-control pauses, session durations, spawn
 * failures, recording failures, plus the process's own metrics.
 * @module
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ExitStatus } from '../../protocol/v1.js';
import type { AuthFailureReason, HandlerMetrics } from '../connection/handler-metrics.js';
import type { SessionObserver, ShellSession } from '../session/session.js';
import type { ScreenStateStats } from '../session/screen-state.js';

const PREFIX = 'xterm_js_shell_';

export interface MetricsSources {
  /** Connections being served now. */
  connections(): number;
  /** Shells waiting for a resume. */
  detachedSessions(): number;
  /** Connections that have not authenticated yet. */
  unauthenticatedConnections(): number;
  /** Pages attached to sessions. */
  viewers(): number;
  /** Snapshot counts and the screen-state backlog; undefined when screen state is off. */
  screenState(): ScreenStateStats | undefined;
}

export class ServerMetrics implements HandlerMetrics {
  readonly registry = new Registry();
  private readonly _sessions: Gauge;
  private readonly _authFailures: Counter<'reason'>;
  private readonly _refusals: Counter<'reason'>;
  private readonly _shares: Counter<'event'>;
  private readonly _spawnFailures: Counter;
  private readonly _recordingFailures: Counter;
  private readonly _bytesIn: Counter;
  private readonly _bytesOut: Counter;
  private readonly _flowPauses: Counter;
  private readonly _sessionDuration: Histogram;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    new Gauge({
      name: `${PREFIX}connections`,
      help: 'WebSocket connections being served',
      registers,
      collect() {
        this.set(sources.connections());
      },
    });
    new Gauge({
      name: `${PREFIX}connections_unauthenticated`,
      help: 'WebSocket connections that have not authenticated yet (counted apart from the limit)',
      registers,
      collect() {
        this.set(sources.unauthenticatedConnections());
      },
    });
    this._refusals = new Counter({
      name: `${PREFIX}connections_refused_total`,
      help: 'Connections turned away before a shell: server full, or room made among unauthenticated ones',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of ['full', 'unauthenticated_limit']) {
      this._refusals.inc({ reason }, 0);
    }
    this._shares = new Counter({
      name: `${PREFIX}shares_total`,
      help: 'Share links by event: created, used (a page joined through one), revoked, expired',
      labelNames: ['event'],
      registers,
    });
    for (const event of ['created', 'used', 'revoked', 'expired']) {
      this._shares.inc({ event }, 0);
    }
    new Gauge({
      name: `${PREFIX}viewers`,
      help: 'Pages attached to sessions, all sessions together',
      registers,
      collect() {
        this.set(sources.viewers());
      },
    });
    new Counter({
      name: `${PREFIX}screen_snapshots_total`,
      help: 'Screens sent to pages that joined or came back: sent (dirty ones included), dirty (taken inside an escape sequence), failed (the replay was sent instead)',
      labelNames: ['outcome'],
      registers,
      collect() {
        const stats = sources.screenState();
        this.reset();
        if (stats !== undefined) {
          this.inc({ outcome: 'sent' }, stats.sent);
          this.inc({ outcome: 'dirty' }, stats.dirty);
          this.inc({ outcome: 'failed' }, stats.failed);
        }
      },
    });
    new Counter({
      name: `${PREFIX}screen_snapshot_seconds_total`,
      help: 'Time from asking for a screen to having it, summed over the screens sent',
      registers,
      collect() {
        this.reset();
        this.inc(sources.screenState()?.seconds ?? 0);
      },
    });
    new Gauge({
      name: `${PREFIX}screen_state_backlog_bytes`,
      help: 'Output handed to the screen-state worker and not parsed yet',
      registers,
      collect() {
        this.set(sources.screenState()?.backlogBytes ?? 0);
      },
    });
    this._sessions = new Gauge({
      name: `${PREFIX}sessions`,
      help: 'Shells running, attached or detached',
      registers,
    });
    new Gauge({
      name: `${PREFIX}sessions_detached`,
      help: 'Shells whose connection dropped, waiting for a resume',
      registers,
      collect() {
        this.set(sources.detachedSessions());
      },
    });
    this._authFailures = new Counter({
      name: `${PREFIX}auth_failures_total`,
      help: 'Failed authentications by reason (refused, timeout, error, throttled)',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of ['refused', 'timeout', 'error', 'throttled']) {
      this._authFailures.inc({ reason }, 0); // every series exists from the start
    }
    this._spawnFailures = new Counter({
      name: `${PREFIX}shell_spawn_failures_total`,
      help: 'Shells that could not be started',
      registers,
    });
    this._recordingFailures = new Counter({
      name: `${PREFIX}recording_failures_total`,
      help: 'Session recordings (--record-dir) that stopped because a write failed, such as a full disk',
      registers,
    });
    this._bytesIn = new Counter({
      name: `${PREFIX}input_bytes_total`,
      help: 'Bytes typed or pasted into shells',
      registers,
    });
    this._bytesOut = new Counter({
      name: `${PREFIX}output_bytes_total`,
      help: 'Bytes of shell output',
      registers,
    });
    this._flowPauses = new Counter({
      name: `${PREFIX}flow_control_pauses_total`,
      help: 'Times a shell was paused because its client fell behind',
      registers,
    });
    this._sessionDuration = new Histogram({
      name: `${PREFIX}session_duration_seconds`,
      help: 'How long shells ran, from start to termination',
      buckets: [1, 10, 60, 300, 1800, 3600, 4 * 3600, 24 * 3600],
      registers,
    });
  }

  sessionStarted(session: ShellSession): void {
    this._sessions.inc();
    const bytesIn = this._bytesIn;
    const bytesOut = this._bytesOut;
    const sessions = this._sessions;
    const duration = this._sessionDuration;
    let closed = false;
    const observer: SessionObserver = {
      output: (chunk: Buffer) => bytesOut.inc(chunk.length),
      input: (data: Buffer) => bytesIn.inc(data.length),
      resized: () => undefined,
      exited: (_status: ExitStatus) => undefined,
      close: () => {
        if (!closed) {
          closed = true;
          sessions.dec();
          duration.observe((Date.now() - session.startedAt) / 1000);
        }
      },
    };
    session.addObserver(observer);
  }

  authFailed(reason: AuthFailureReason): void {
    this._authFailures.inc({ reason });
  }

  /** A connection turned away: `full` (--max-connections) or `unauthenticated_limit`. */
  connectionRefused(reason: 'full' | 'unauthenticated_limit'): void {
    this._refusals.inc({ reason });
  }

  shareEvent(event: 'created' | 'used' | 'revoked' | 'expired'): void {
    this._shares.inc({ event });
  }

  spawnFailed(): void {
    this._spawnFailures.inc();
  }

  flowPaused(): void {
    this._flowPauses.inc();
  }

  recordingFailed(): void {
    this._recordingFailures.inc();
  }
}
