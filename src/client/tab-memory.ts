/**
 * What one browser tab remembers about its shell across a reload: the credential or the share
 * link's secret (taken out of the address bar, where they would sit in history and
 * screenshots) and the session to come back to. sessionStorage: per tab, gone when the tab
 * closes, never sent anywhere.
 * @module
 */

export interface TabMemory {
  credential: string | undefined;
  sessionId: string | undefined;
  /** The share link's secret of a page that came through one (it has no credential). */
  share: string | undefined;
}

/** sessionStorage, or undefined where the browser denies it (a sandboxed frame). */
function tabStorage(): Storage | undefined {
  try {
    return window.sessionStorage;
  } catch {
    return undefined;
  }
}

/** One server per key: pages of several servers on one origin keep apart. */
export function openTabMemory(key: string, storage: Storage | undefined = tabStorage()): TabMemory {
  const field = (
    name: string,
  ): { get(): string | undefined; set(value: string | undefined): void } => ({
    get: () => storage?.getItem(`xterm-js-shell:${key}:${name}`) ?? undefined,
    set: (value) => {
      try {
        if (value === undefined) storage?.removeItem(`xterm-js-shell:${key}:${name}`);
        else storage?.setItem(`xterm-js-shell:${key}:${name}`, value);
      } catch {
        // storage full or denied: the page still works, it just forgets on reload
      }
    },
  });
  const credential = field('credential');
  const sessionId = field('session');
  const share = field('share');
  return {
    get share() {
      return share.get();
    },
    set share(value) {
      share.set(value);
    },
    get credential() {
      return credential.get();
    },
    set credential(value) {
      credential.set(value);
    },
    get sessionId() {
      return sessionId.get();
    },
    set sessionId(value) {
      sessionId.set(value);
    },
  };
}
