/**
 * The two colour themes: xterm.js palettes, matched by the page's CSS (`:root[data-theme]`).
 * @module
 */
import type { ITheme } from '@xterm/xterm';
import type { ThemeName } from './settings.js';

export const THEMES: Readonly<Record<ThemeName, ITheme>> = {
  dark: {
    background: '#1e1e1e',
    foreground: '#d4d4d4',
    cursor: '#aeafad',
    cursorAccent: '#1e1e1e',
    selectionBackground: '#264f78',
    black: '#000000',
    red: '#cd3131',
    green: '#0dbc79',
    yellow: '#e5e510',
    blue: '#2472c8',
    magenta: '#bc3fbc',
    cyan: '#11a8cd',
    white: '#e5e5e5',
    brightBlack: '#666666',
    brightRed: '#f14c4c',
    brightGreen: '#23d18b',
    brightYellow: '#f5f543',
    brightBlue: '#3b8eea',
    brightMagenta: '#d670d6',
    brightCyan: '#29b8db',
    brightWhite: '#e5e5e5',
  },
  // Light backgrounds need darker "white" and "yellow" so text printed in them stays readable.
  light: {
    background: '#fbfbfb',
    foreground: '#2e3440',
    cursor: '#2e3440',
    cursorAccent: '#fbfbfb',
    selectionBackground: '#add6ff',
    black: '#000000',
    red: '#c72e2e',
    green: '#0f7b48',
    yellow: '#8f7a00',
    blue: '#0451a5',
    magenta: '#a12ea1',
    cyan: '#0e7490',
    white: '#6e6e6e',
    brightBlack: '#555555',
    brightRed: '#cd3131',
    brightGreen: '#14874f',
    brightYellow: '#a68a00',
    brightBlue: '#0451a5',
    brightMagenta: '#bc05bc',
    brightCyan: '#0598bc',
    brightWhite: '#3a3a3a',
  },
};
