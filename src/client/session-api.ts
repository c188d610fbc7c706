/**
 * The server's session API, from the page: relative URLs under the page's own path (so it works
 * behind a proxy's prefix), JSON, the page's credential as `Authorization: Bearer`. What the
 * menus list and do: the live shells, share links, cutting a screen off, ending a shell.
 * @module
 */
import type { ViewerRole } from '../protocol/v1.js';

export interface ApiViewer {
  readonly id: string;
  readonly role: ViewerRole;
  /** ISO time. */
  readonly since: string;
  readonly shareId?: string;
}

export interface ApiShare {
  readonly id: string;
  readonly role: 'reader' | 'writer';
  /** ISO time. */
  readonly expiresAt: string;
}

export interface ApiSession {
  readonly id: string;
  readonly command: readonly string[];
  /** ISO time. */
  readonly startedAt: string;
  readonly idleSeconds: number;
  readonly cols: number;
  readonly rows: number;
  readonly exited: boolean;
  readonly viewers: readonly ApiViewer[];
  readonly shares: readonly ApiShare[];
}

export interface CreatedShare extends ApiShare {
  /** Relative to the page: `./#share=SECRET`. */
  readonly url: string;
}

/** A refusal or a failure, with the server's message (or what went wrong on the way). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class SessionApi {
  /**
   * @param _pageUrl the page's address: `api/…` is resolved against it
   * @param _credential the credential to send (none with `--auth none`)
   */
  constructor(
    private readonly _pageUrl: string,
    private readonly _credential: () => string | undefined,
  ) {}

  async list(): Promise<ApiSession[]> {
    const body = (await this._call('GET', 'api/sessions')) as { sessions?: ApiSession[] };
    return body.sessions ?? [];
  }

  async get(sessionId: string): Promise<ApiSession> {
    return (await this._call('GET', `api/sessions/${sessionId}`)) as ApiSession;
  }

  async share(
    sessionId: string,
    role: 'reader' | 'writer',
    expiresIn: number,
  ): Promise<CreatedShare> {
    return (await this._call('POST', `api/sessions/${sessionId}/shares`, {
      role,
      expiresIn,
    })) as CreatedShare;
  }

  async revoke(sessionId: string, shareId: string): Promise<void> {
    await this._call('DELETE', `api/sessions/${sessionId}/shares/${encodeURIComponent(shareId)}`);
  }

  async cutOff(sessionId: string, viewerId: string): Promise<void> {
    await this._call('DELETE', `api/sessions/${sessionId}/viewers/${encodeURIComponent(viewerId)}`);
  }

  async end(sessionId: string): Promise<void> {
    await this._call('DELETE', `api/sessions/${sessionId}`);
  }

  private async _call(method: string, path: string, body?: unknown): Promise<unknown> {
    const url = new URL(path, this._pageUrl);
    url.hash = '';
    url.search = '';
    const credential = this._credential();
    const headers: Record<string, string> = {};
    if (credential !== undefined) {
      headers.Authorization = `Bearer ${credential}`;
    }
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        cache: 'no-store',
        credentials: 'omit',
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (error) {
      throw new ApiError(0, `the server cannot be reached (${(error as Error).message})`);
    }
    if (response.status === 204) {
      return undefined;
    }
    let parsed: unknown;
    try {
      parsed = await response.json();
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const message = (parsed as { error?: { message?: unknown } } | undefined)?.error?.message;
      throw new ApiError(
        response.status,
        typeof message === 'string' ? message : `the server answered ${response.status}`,
      );
    }
    return parsed;
  }
}
