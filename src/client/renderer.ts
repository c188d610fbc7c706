/**
 * Which renderer draws the terminal: WebGL when asked for and available (loaded lazily, after
 * the first paint by the DOM renderer), the DOM renderer otherwise or once the WebGL context is
 * lost. The renderer in use is shown as `data-renderer` on <body>, for people and tests.
 * @module
 */
import type { Terminal } from '@xterm/xterm';
import type { WebglAddon } from '@xterm/addon-webgl';
import type { RendererChoice } from './settings.js';

export type ActiveRenderer = 'webgl' | 'dom';

export class RendererSwitch {
  private _webgl: WebglAddon | undefined;
  /** Bumped on every request, so a slow import cannot override a later choice. */
  private _generation = 0;
  /** A lost context tends to be lost again (driver reset, GPU process gone): stay on DOM. */
  private _contextLost = false;

  /**
   * @param _term the opened terminal.
   * @param _changed told whenever the active renderer changes, with a reason for the log.
   */
  constructor(
    private readonly _term: Terminal,
    private readonly _changed: (renderer: ActiveRenderer, reason: string) => void,
  ) {
    this._changed('dom', 'initial');
  }

  get active(): ActiveRenderer {
    return this._webgl === undefined ? 'dom' : 'webgl';
  }

  async use(choice: RendererChoice): Promise<void> {
    const generation = ++this._generation;
    if (choice === 'dom') {
      this._dropWebgl('asked for the DOM renderer');
      return;
    }
    if (this._webgl !== undefined || this._contextLost) {
      return;
    }
    if (!hasWebgl2()) {
      this._changed('dom', 'WebGL2 is not available in this browser');
      return;
    }
    let addonClass: typeof WebglAddon;
    try {
      ({ WebglAddon: addonClass } = await import('@xterm/addon-webgl'));
    } catch (error) {
      this._changed('dom', `the WebGL renderer did not load: ${String(error)}`);
      return;
    }
    if (generation !== this._generation || this._webgl !== undefined) {
      return;
    }
    try {
      const webgl = new addonClass();
      webgl.onContextLoss(() => {
        this._contextLost = true;
        this._dropWebgl('the WebGL context was lost');
      });
      this._term.loadAddon(webgl);
      this._webgl = webgl;
      this._changed('webgl', 'WebGL renderer active');
    } catch (error) {
      // The addon throws from activate() when it cannot create its context.
      this._changed('dom', `the WebGL renderer failed to start: ${String(error)}`);
    }
  }

  private _dropWebgl(reason: string): void {
    const webgl = this._webgl;
    this._webgl = undefined;
    if (webgl !== undefined) {
      webgl.dispose(); // xterm.js puts the DOM renderer back
      this._changed('dom', reason);
    }
  }
}

/** Probes with a throwaway context (released at once: browsers cap live contexts at ~16). */
function hasWebgl2(): boolean {
  try {
    const probe = document.createElement('canvas').getContext('webgl2');
    probe?.getExtension('WEBGL_lose_context')?.loseContext();
    return probe !== null;
  } catch {
    return false;
  }
}
