// Messages between a case and its reader pool (bench/lib/reader-child.ts) over IPC.

export type ReaderRequest =
  | {
      type: 'attach';
      id: number;
      url: string;
      credential: string;
      sessionId: string;
      count: number;
    }
  /** Frame the next payload between `begin` and `end` in every reader (answered at once). */
  | { type: 'arm'; id: number; begin: string; end: string }
  /** Answered when every reader has the armed payload's end, or after `timeoutMs`. */
  | { type: 'collect'; id: number; timeoutMs: number }
  /** Record (offset, time) of every output chunk from now on (`on`), or stop. */
  | { type: 'trace'; id: number; on: boolean }
  | { type: 'traces'; id: number }
  /**
   * Stop reading the pages' sockets: the server still sends them everything (small output stays
   * in the kernel's buffers), but no page of the pool wakes up for it.
   */
  | { type: 'pause'; id: number }
  | { type: 'close'; id: number };

export interface ReaderPayload {
  readonly bytes: number;
  readonly sha256: string;
  /** Milliseconds from the first to the last payload byte. */
  readonly ms: number;
  /** Output bytes the server skipped for this reader (`skipped` events). */
  readonly skipped: number;
  /** `skipped` events whose `from` was not the reader's offset (a protocol slip). */
  readonly skipMismatches: number;
}

/** Per reader: the session offset just after each chunk, and its arrival time. */
export interface ReaderTrace {
  readonly ends: readonly number[];
  /** process.hrtime in milliseconds: the monotonic clock every process on the machine shares. */
  readonly at: readonly number[];
}

export type ReaderReply =
  | { type: 'started' }
  | { type: 'done'; id: number }
  | { type: 'error'; id: number; message: string }
  | { type: 'payloads'; id: number; payloads: ReaderPayload[] }
  | { type: 'traces'; id: number; traces: ReaderTrace[] };
