/**
 * Session recording as asciicast v2 (the format `asciinema play` and `asciinema cat` read):
 * output with timing and resizes, input only when asked (it holds passwords). Written through a
 * bounded buffer: a slow disk drops recording data, it never stalls the shell.
 * @module
 */
import { createWriteStream, type WriteStream } from 'node:fs';
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

  constructor(private readonly _options: RecorderOptions) {
    const startedAt = _options.startedAt ?? new Date();
    this._start = performance.now();
    this.path = join(_options.dir, recordingFileName(startedAt, _options.sessionId));
    // 0600: a recording holds everything the shell printed.
    this._stream = createWriteStream(this.path, { flags: 'wx', mode: 0o600 });
    this._stream.on('error', (error) => {
      _options.log.error({ err: error.message, path: this.path }, 'recording failed; stopped');
      this._closed = true;
    });
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
    this._stream.write(line);
  }
}
