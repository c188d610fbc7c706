/**
 * The page's settings: defaults, what localStorage remembered, and URL query overrides for
 * embedding (`?theme=light&fontSize=16`). Parsing is pure; `SettingsStore` adds the storage.
 * @module
 */

export type ThemeName = 'dark' | 'light';
/** `webgl` tries the WebGL renderer and falls back to the DOM one; `dom` never tries WebGL. */
export type RendererChoice = 'webgl' | 'dom';
/** `auto` shows the touch key bar on touch devices only. */
export type KeybarChoice = 'auto' | 'on' | 'off';

export interface Settings {
  /** @default 'dark' */
  readonly theme: ThemeName;
  /** CSS pixels, FONT_SIZE_MIN..FONT_SIZE_MAX. @default 14 */
  readonly fontSize: number;
  /** @default 'webgl' */
  readonly renderer: RendererChoice;
  /** Copy the selection to the clipboard as soon as it is made. @default true */
  readonly copyOnSelect: boolean;
  /** xterm.js screenReaderMode: an accessibility tree that mirrors the screen. @default false */
  readonly screenReader: boolean;
  /** @default 'auto' */
  readonly keybar: KeybarChoice;
}

export const DEFAULT_SETTINGS: Readonly<Settings> = {
  theme: 'dark',
  fontSize: 14,
  renderer: 'webgl',
  copyOnSelect: true,
  screenReader: false,
  keybar: 'auto',
};

export const FONT_SIZE_MIN = 6;
export const FONT_SIZE_MAX = 40;

/** The localStorage key holding the settings the user changed, as JSON. */
export const STORAGE_KEY = 'xterm-js-shell.settings';

/** Text to a setting's value; undefined when the text is not a valid value. */
type Parser = (text: string) => string | number | boolean | undefined;

function oneOf(...values: string[]): Parser {
  return (text) => (values.includes(text) ? text : undefined);
}

function parseBoolean(text: string): boolean | undefined {
  const lower = text.toLowerCase();
  if (['1', 'true', 'on', 'yes'].includes(lower)) {
    return true;
  }
  if (['0', 'false', 'off', 'no'].includes(lower)) {
    return false;
  }
  return undefined;
}

function parseFontSize(text: string): number | undefined {
  // Plain decimal digits only: Number() would also take '0x10', '1e1' and ' 12 '.
  const value = /^\d{1,3}$/.test(text) ? Number(text) : NaN;
  return value >= FONT_SIZE_MIN && value <= FONT_SIZE_MAX ? value : undefined;
}

const PARSERS: { readonly [K in keyof Settings]: readonly [Parser, string] } = {
  theme: [oneOf('dark', 'light'), 'dark or light'],
  fontSize: [parseFontSize, `an integer ${FONT_SIZE_MIN}..${FONT_SIZE_MAX}`],
  renderer: [oneOf('webgl', 'dom'), 'webgl or dom'],
  copyOnSelect: [parseBoolean, 'true or false'],
  screenReader: [parseBoolean, 'true or false'],
  keybar: [oneOf('auto', 'on', 'off'), 'auto, on or off'],
};

export interface ParsedSettings {
  readonly settings: Partial<Settings>;
  /** One line per value that was ignored, naming the setting and what it expects. */
  readonly problems: readonly string[];
}

/**
 * Reads settings from name/value text pairs (a URL query, or stored values turned to text).
 * Unknown names are left alone (the query may carry the embedder's own parameters); known names
 * with a bad value are reported and ignored.
 */
export function parseSettings(pairs: Iterable<readonly [string, string]>): ParsedSettings {
  const settings: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, text] of pairs) {
    if (!Object.hasOwn(PARSERS, name)) {
      continue;
    }
    const [parse, expected] = PARSERS[name as keyof Settings];
    const value = parse(text);
    if (value === undefined) {
      problems.push(`setting ${name}=${JSON.stringify(text)} ignored: expected ${expected}`);
    } else {
      settings[name] = value;
    }
  }
  return { settings, problems };
}

/** What localStorage held: JSON written by `SettingsStore`; anything unreadable counts as empty. */
export function parseStoredSettings(json: string | null): ParsedSettings {
  if (json === null) {
    return { settings: {}, problems: [] };
  }
  let stored: unknown;
  try {
    stored = JSON.parse(json);
  } catch {
    return { settings: {}, problems: [`stored settings (${STORAGE_KEY}) are not JSON: ignored`] };
  }
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) {
    return { settings: {}, problems: [`stored settings (${STORAGE_KEY}) are not an object`] };
  }
  return parseSettings(
    Object.entries(stored as Record<string, unknown>).map(([name, value]) => [name, String(value)]),
  );
}

export function clampFontSize(size: number): number {
  return Math.min(FONT_SIZE_MAX, Math.max(FONT_SIZE_MIN, Math.round(size)));
}

export type SettingsListener = (settings: Settings, changed: ReadonlySet<keyof Settings>) => void;

/**
 * The settings in effect: defaults, then stored values, then the URL query. A change made by
 * the user is stored (so it is remembered) and wins over the query from then on.
 */
export class SettingsStore {
  private _stored: Partial<Settings>;
  private _current: Settings;
  private readonly _listeners = new Set<SettingsListener>();

  /**
   * @param storage where changes are remembered; `undefined` when the browser denies storage
   *   (a sandboxed frame): settings then last as long as the page.
   * @param query the page's URL query, e.g. `new URLSearchParams(location.search)`.
   * @param warn told about every ignored value. @default console.warn
   */
  constructor(
    private readonly _storage: Storage | undefined,
    query: URLSearchParams,
    warn: (message: string) => void = (message) => console.warn(`xterm-js-shell: ${message}`),
  ) {
    const stored = parseStoredSettings(readStorage(_storage));
    const fromQuery = parseSettings(query.entries());
    [...stored.problems, ...fromQuery.problems].forEach(warn);
    this._stored = stored.settings;
    this._current = { ...DEFAULT_SETTINGS, ...stored.settings, ...fromQuery.settings };
  }

  get current(): Settings {
    return this._current;
  }

  /** Applies and remembers a change; listeners hear which settings really changed. */
  update(patch: Partial<Settings>): void {
    const changed = new Set<keyof Settings>();
    for (const name of Object.keys(patch) as (keyof Settings)[]) {
      if (patch[name] !== undefined && patch[name] !== this._current[name]) {
        changed.add(name);
      }
    }
    this._stored = { ...this._stored, ...patch };
    this._current = { ...this._current, ...patch };
    try {
      this._storage?.setItem(STORAGE_KEY, JSON.stringify(this._stored));
    } catch {
      // Storage full or denied: the change still applies to this page.
    }
    if (changed.size > 0) {
      for (const listener of this._listeners) {
        listener(this._current, changed);
      }
    }
  }

  onChange(listener: SettingsListener): { dispose(): void } {
    this._listeners.add(listener);
    return { dispose: () => this._listeners.delete(listener) };
  }
}

function readStorage(storage: Storage | undefined): string | null {
  try {
    return storage?.getItem(STORAGE_KEY) ?? null;
  } catch {
    return null;
  }
}
