// Messages between the benchmark and its server child (bench/lib/server-child.ts) over IPC.

/** The serialisable part of ShellServerOptions that the cases use. */
export interface ChildServerOptions {
  readonly auth?: 'token' | 'none';
  readonly userShellCommand?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly resumeWindow?: number;
  readonly maxConnections?: number;
  readonly shellLogoutWait?: number;
  readonly shellTerminateWait?: number;
  readonly pingInterval?: number;
  readonly authThrottle?: false;
}

export interface ChildConfig {
  /** Absolute path of the build's dist/server/index.js. */
  readonly serverModule: string;
  /** Absolute path of the build's dist/client. */
  readonly clientDir: string;
  readonly options: ChildServerOptions;
}

export type ChildRequest =
  | { type: 'stats'; id: number }
  | { type: 'gc'; id: number }
  | { type: 'reset-loop'; id: number }
  | { type: 'close'; id: number };

export interface ChildStats {
  readonly type: 'stats';
  readonly id: number;
  readonly connections: number;
  readonly detachedSessions: number;
  readonly memory: NodeJS.MemoryUsage;
  /** Share of time the event loop was busy since the last reset (0..1). */
  readonly eventLoopUtilization: number;
  readonly loopDelayMaxMs: number;
  readonly loopDelayP99Ms: number;
}

export type ChildReply =
  { type: 'listening'; port: number; token: string } | ChildStats | { type: 'done'; id: number };
