/**
 * Phones and tablets: keep the page (and so the key bar) inside the visual viewport when the
 * on-screen keyboard opens, and change the font size with a two-finger pinch.
 * @module
 */

/**
 * Sizes the page to the visual viewport. Chrome on Android resizes the layout viewport itself
 * (`interactive-widget=resizes-content` in index.html); Safari on iOS only shrinks the visual
 * viewport, so the page follows it through `--app-height` and scrolls back into place.
 */
export function followVisualViewport(root: HTMLElement): void {
  const viewport = window.visualViewport;
  if (viewport === null) {
    return;
  }
  const visualViewportOnResize = (): void => {
    if (viewport.scale !== 1) {
      return; // the user zoomed in (a pinch outside the terminal): the layout stays as it is
    }
    root.style.setProperty('--app-height', `${Math.round(viewport.height)}px`);
    if (window.scrollY !== 0) {
      window.scrollTo(0, 0);
    }
  };
  viewport.addEventListener('resize', visualViewportOnResize);
  viewport.addEventListener('scroll', visualViewportOnResize);
  visualViewportOnResize();
}

/**
 * Two fingers moving apart or together scale the font size from where the pinch started;
 * `done` runs when the fingers lift (to remember the size). The browser's own page zoom is
 * held back for two-finger gestures on the terminal only.
 */
export function pinchToFontSize(
  target: HTMLElement,
  fontSize: () => number,
  setFontSize: (size: number) => void,
  done: () => void,
): void {
  let start: { distance: number; size: number } | undefined;
  const distance = (touches: TouchList): number => {
    const [a, b] = [touches[0], touches[1]];
    return a === undefined || b === undefined
      ? 0
      : Math.hypot(a.clientX - b.clientX, a.clientY - b.clientY);
  };
  target.addEventListener(
    'touchstart',
    (event) => {
      if (event.touches.length === 2) {
        start = { distance: distance(event.touches), size: fontSize() };
      }
    },
    { passive: true },
  );
  target.addEventListener(
    'touchmove',
    (event) => {
      if (start === undefined || event.touches.length !== 2 || start.distance === 0) {
        return;
      }
      event.preventDefault();
      setFontSize(start.size * (distance(event.touches) / start.distance));
    },
    { passive: false, capture: true },
  );
  const touchOnEnd = (event: TouchEvent): void => {
    if (start !== undefined && event.touches.length < 2) {
      start = undefined;
      done();
    }
  };
  target.addEventListener('touchend', touchOnEnd);
  target.addEventListener('touchcancel', touchOnEnd);
}
