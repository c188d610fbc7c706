/**
 * The session API under the page's base path, for the page's menu and for scripts: list the
 * live sessions of a credential, make and revoke share links, cut a viewer off, end a session.
 * JSON in and out; the caller is authenticated (and its origin checked) by the server first.
 * See docs/sessions.md.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import type { SessionStore } from '../session/session-store.js';
import type { ShellSession } from '../session/session.js';
import type { ShareStore } from '../session/share-store.js';

/** Largest request body: a share request is a few dozen bytes. */
const MAX_BODY_BYTES = 4096;
export const DEFAULT_SHARE_LIFETIME_SECONDS = 3600;

export interface SessionApiOptions {
  readonly sessions: SessionStore;
  readonly shares: ShareStore;
  /** The longest a share link may live, in seconds. */
  readonly maxShareLifetime: number;
  readonly log: Logger;
  /** Told of each share made (for metrics). */
  readonly shareCreated?: () => void;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    ...(text === '' ? {} : { 'Content-Length': Buffer.byteLength(text) }),
  });
  response.end(text);
}

/** Answers with the catalog's shape: `{"error":{"code","message"}}`. */
export function sendApiError(
  response: ServerResponse,
  status: number,
  code: string,
  message: string,
): void {
  sendJson(response, status, { error: { code, message } });
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw new ApiError(413, 'XJS_API_TOO_LARGE', `the body is over ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') {
    return {};
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError(400, 'XJS_API_BAD_REQUEST', 'the body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ApiError(400, 'XJS_API_BAD_REQUEST', 'the body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

export class SessionApi {
  constructor(private readonly _options: SessionApiOptions) {}

  /**
   * Serves `path` (below `/api/`) for the credential `owner`; resolves once answered. Paths:
   * `sessions`, `sessions/ID`, `sessions/ID/shares`, `sessions/ID/shares/SID`,
   * `sessions/ID/viewers/VID`.
   */
  async serve(
    request: IncomingMessage,
    response: ServerResponse,
    path: string,
    owner: string,
  ): Promise<void> {
    try {
      await this._route(request, response, path.split('/'), owner);
    } catch (error) {
      if (error instanceof ApiError) {
        sendApiError(response, error.status, error.code, error.message);
      } else {
        this._options.log.error({ err: String(error) }, 'session API failed');
        sendApiError(response, 500, 'XJS_ERR_INTERNAL', 'internal server error');
      }
    }
  }

  private async _route(
    request: IncomingMessage,
    response: ServerResponse,
    parts: readonly string[],
    owner: string,
  ): Promise<void> {
    const method = request.method ?? 'GET';
    const [root, id, sub, subId, ...rest] = parts;
    if (root !== 'sessions' || rest.length > 0) {
      throw new ApiError(404, 'XJS_API_NOT_FOUND', 'no such endpoint');
    }
    if (id === undefined) {
      this._allow(method, ['GET']);
      const sessions = this._options.sessions
        .list()
        .filter((session) => this._options.sessions.ownerOf(session) === owner);
      sendJson(response, 200, { sessions: sessions.map((session) => this._describe(session)) });
      return;
    }
    const session = this._session(id, owner);
    if (sub === undefined) {
      this._allow(method, ['GET', 'DELETE']);
      if (method === 'GET') {
        sendJson(response, 200, this._describe(session));
        return;
      }
      this._options.log.info({ sessionId: session.id }, 'session ended through the API');
      for (const viewer of session.viewers) {
        viewer.port.removed('ended');
      }
      void this._options.sessions.end(session);
      sendJson(response, 204, undefined);
      return;
    }
    if (sub === 'shares' && subId === undefined) {
      this._allow(method, ['POST']);
      const body = await readJson(request);
      sendJson(response, 201, this._createShare(session, body));
      return;
    }
    if (sub === 'shares') {
      this._allow(method, ['DELETE']);
      const share = this._options.shares.get(subId as string);
      if (share === undefined || share.sessionId !== session.id) {
        throw new ApiError(404, 'XJS_API_NOT_FOUND', 'no such share');
      }
      this._options.shares.revoke(share.id);
      sendJson(response, 204, undefined);
      return;
    }
    if (sub === 'viewers' && subId !== undefined) {
      this._allow(method, ['DELETE']);
      const viewer = session.viewers.find((candidate) => candidate.id === subId);
      if (viewer === undefined) {
        throw new ApiError(404, 'XJS_API_NOT_FOUND', 'no such viewer');
      }
      this._options.log.info(
        { sessionId: session.id, viewer: viewer.id, role: viewer.role, shareId: viewer.shareId },
        'viewer cut off through the API',
      );
      viewer.port.removed('revoked');
      sendJson(response, 204, undefined);
      return;
    }
    throw new ApiError(404, 'XJS_API_NOT_FOUND', 'no such endpoint');
  }

  private _allow(method: string, allowed: readonly string[]): void {
    if (!allowed.includes(method)) {
      throw new ApiError(405, 'XJS_API_METHOD', `use ${allowed.join(' or ')} here`);
    }
  }

  private _session(id: string, owner: string): ShellSession {
    const session = this._options.sessions.get(id);
    if (session === undefined || this._options.sessions.ownerOf(session) !== owner) {
      // Another credential's session is not there for this one: the same answer as none.
      throw new ApiError(404, 'XJS_API_NOT_FOUND', 'no such session');
    }
    return session;
  }

  private _createShare(
    session: ShellSession,
    body: Record<string, unknown>,
  ): Record<string, unknown> {
    const role = body.role;
    if (role !== 'reader' && role !== 'writer') {
      throw new ApiError(400, 'XJS_API_BAD_REQUEST', 'role must be "reader" or "writer"');
    }
    const max = this._options.maxShareLifetime;
    const expiresIn = body.expiresIn ?? Math.min(DEFAULT_SHARE_LIFETIME_SECONDS, max);
    if (
      typeof expiresIn !== 'number' ||
      !Number.isSafeInteger(expiresIn) ||
      expiresIn < 1 ||
      expiresIn > max
    ) {
      throw new ApiError(
        400,
        'XJS_API_BAD_REQUEST',
        `expiresIn must be a whole number of seconds from 1 to ${max} (--max-share-lifetime)`,
      );
    }
    const share = this._options.shares.create(session.id, role, expiresIn * 1000);
    this._options.shareCreated?.();
    this._options.log.info(
      { sessionId: session.id, shareId: share.id, role, expiresIn },
      'share link created',
    );
    return {
      id: share.id,
      role: share.role,
      expiresAt: new Date(share.expiresAt).toISOString(),
      url: `./#share=${share.secret}`,
    };
  }

  private _describe(session: ShellSession): Record<string, unknown> {
    return {
      id: session.id,
      command: session.command,
      startedAt: new Date(session.startedAt).toISOString(),
      idleSeconds: Math.floor((Date.now() - session.lastActivity) / 1000),
      cols: session.cols,
      rows: session.rows,
      ...(session.title !== undefined ? { title: session.title } : {}),
      exited: session.exitStatus !== undefined,
      viewers: session.viewers.map((viewer) => ({
        ...viewer.info,
        since: new Date(viewer.since).toISOString(),
      })),
      shares: this._options.shares.ofSession(session.id).map((share) => ({
        id: share.id,
        role: share.role,
        expiresAt: new Date(share.expiresAt).toISOString(),
      })),
    };
  }
}
