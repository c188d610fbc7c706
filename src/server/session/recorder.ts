/**
 * Session recording as asciicast v2 (the format `asciinema play` and `asciinema cat` read):
 * output with timing and resizes, input only when asked (it holds passwords). Written through a
 * bounded buffer: a slow disk drops recording data, it never stalls the shell. A write that
 * fails (a full disk) stops the recording with one error log, and the file is cut back to the
 * last event written whole, so it still plays (docs/recording.md).
 * @module
 */
import { createWriteStream, truncate, unlink, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { ExitStatus } from '../../protocol/v1.js';
import type { Logger } from '../logger.js';
import type { SessionObserver } from './session.js';

export interface RecorderOptions {
  readonly dir: string;
  readonly sessionId: string;
  readonly cols: number;
  readonly rows: number;
  /** Record what the user types too. @default false */
  readonly input?: boolean;
  /** TERM and SHELL for the header. */
  readonly env?: Readonly<Record<string, string>>;
  readonly log: Logger;
  /** Start time; also names the file. @default now */
  readonly startedAt?: Date;
  /** Called once if the recording fails (the metric counts it). */
  readonly onFailure?: (error: Error) => void;
}

/** Above this many bytes waiting for the disk, events are dropped (and counted). */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;

/** `2026-11-29T12-04-50.123Z-<session id>.cast`: sorts by time, names the session. */
export function recordingFileName(startedAt: Date, sessionId: string): string {
  return `${startedAt.toISOString().replace(/:/g, '-')}-${sessionId}.cast`;
}

export class AsciicastRecorder implements SessionObserver {
  readonly path: string;
  private readonly _stream: WriteStream;
  private readonly _start: number;
  private readonly _outputDecoder = new TextDecoder('utf-8');
  private readonly _inputDecoder = new TextDecoder('utf-8');
  private _droppedBytes = 0;
  private _closed = false;
  private _failed = false;
  /** Whether we created the file: only then may a failure cut or remove it. */
  private _opened = false;
  /** Bytes of the file known to be on disk: whole events, in order. */
  private _writtenBytes = 0;

  constructor(private readonly _options: RecorderOptions) {
    const startedAt = _options.startedAt ?? new Date();
    this._start = performance.now();
    this.path = join(_options.dir, recordingFileName(startedAt, _options.sessionId));
    // 0600: a recording holds everything the shell printed.
    this._stream = createWriteStream(this.path, { flags: 'wx', mode: 0o600 });
    this._stream.once('open', () => {
      this._opened = true;
    });
    this._stream.on('error', (error: NodeJS.ErrnoException) => this._onError(error));
    const env: Record<string, string> = {};
    for (const name of ['TERM', 'SHELL'] as const) {
      const value = _options.env?.[name];
      if (value !== undefined) env[name] = value;
    }
    this._write({
      version: 2,
      width: _options.cols,
      height: _options.rows,
      timestamp: Math.floor(startedAt.getTime() / 1000),
      env,
    });
  }

  /** Bytes of events dropped because the disk did not keep up. */
  get droppedBytes(): number {
    return this._droppedBytes;
  }

  output(chunk: Buffer): void {
    const text = this._outputDecoder.decode(chunk, { stream: true });
    if (text !== '') this._event('o', text);
  }

  input(data: Buffer): void {
    if (this._options.input === true) {
      const text = this._inputDecoder.decode(data, { stream: true });
      if (text !== '') this._event('i', text);
    }
  }

  resized(cols: number, rows: number): void {
    this._event('r', `${cols}x${rows}`);
  }

  exited(_status: ExitStatus): void {
    this.close();
  }

  /** Flushes and closes the file; later events are ignored. */
  close(): void {
    if (this._closed) return;
    const rest = this._outputDecoder.decode();
    if (rest !== '') this._event('o', rest);
    this._closed = true;
    if (this._droppedBytes > 0) {
      this._options.log.warn(
        { path: this.path, droppedBytes: this._droppedBytes },
        'the disk did not keep up; part of the recording was dropped',
      );
    }
    this._stream.end();
  }

  private _event(kind: 'o' | 'i' | 'r', data: string): void {
    const seconds = Number(((performance.now() - this._start) / 1000).toFixed(6));
    this._write([seconds, kind, data]);
  }

  private _write(value: unknown): void {
    if (this._closed) return;
    const line = JSON.stringify(value) + '\n';
    if (this._stream.writableLength > MAX_PENDING_BYTES) {
      this._droppedBytes += line.length;
      return;
    }
    const bytes = Buffer.byteLength(line);
    this._stream.write(line, (error) => {
      if (error === null || error === undefined) this._writtenBytes += bytes;
    });
  }

  /**
   * The first error stops the recording for good: one log line, one failure counted, however
   * many events follow. The file is then cut to the events written whole (a failed write may
   * have left part of a line: ENOSPC after a short write); one with nothing whole, not even
   * the header, is removed.
   */
  private _onError(error: NodeJS.ErrnoException): void {
    if (this._failed) return;
    this._failed = true;
    this._closed = true;
    const why = error.code === 'ENOSPC' ? 'the disk is full' : error.message;
    const kept = this._writtenBytes;
    this._options.log.error(
      { err: error.message, code: error.code, path: this.path, keptBytes: kept },
      `recording stopped: ${why}; the file keeps the events written before (whole lines)`,
    );
    this._options.onFailure?.(error);
    const path = this.path;
    const done = (cleanupError: NodeJS.ErrnoException | null): void => {
      if (cleanupError !== null && cleanupError.code !== 'ENOENT') {
        this._options.log.debug(
          { err: cleanupError.message, path },
          'cutting the recording failed',
        );
      }
    };
    // Once the stream has let go of the file: a write still in flight lands before the cut.
    this._stream.once('close', () => {
      if (!this._opened) return; // never ours (it existed: `wx`), or never created
      if (kept === 0) unlink(path, done);
      else truncate(path, kept, done);
    });
  }
}
