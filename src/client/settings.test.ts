// Settings from the URL query and from storage: what is taken, what is ignored and reported.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_SETTINGS,
  clampFontSize,
  parseSettings,
  parseStoredSettings,
  FONT_SIZE_MAX,
  FONT_SIZE_MIN,
} from './settings.js';

function fromQuery(query: string): ReturnType<typeof parseSettings> {
  return parseSettings(new URLSearchParams(query).entries());
}

describe('parseSettings', () => {
  it('reads every setting from a URL query', () => {
    assert.deepEqual(
      fromQuery('theme=light&fontSize=16&renderer=dom&copyOnSelect=off&screenReader=1&keybar=on')
        .settings,
      {
        theme: 'light',
        fontSize: 16,
        renderer: 'dom',
        copyOnSelect: false,
        screenReader: true,
        keybar: 'on',
      },
    );
  });

  it('leaves the embedder’s own parameters alone', () => {
    assert.deepEqual(fromQuery('user=ann&theme=dark'), {
      settings: { theme: 'dark' },
      problems: [],
    });
  });

  it('ignores a bad value and names the setting and what it expects', () => {
    const parsed = fromQuery('fontSize=huge&theme=blue&screenReader=maybe');
    assert.deepEqual(parsed.settings, {});
    assert.deepEqual(parsed.problems, [
      `setting fontSize="huge" ignored: expected an integer ${FONT_SIZE_MIN}..${FONT_SIZE_MAX}`,
      'setting theme="blue" ignored: expected dark or light',
      'setting screenReader="maybe" ignored: expected true or false',
    ]);
  });

  it('refuses font sizes outside the range and fractions', () => {
    for (const text of ['5', '41', '14.5', '', '0x10']) {
      assert.deepEqual(fromQuery(`fontSize=${text}`).settings, {}, text);
    }
    assert.deepEqual(fromQuery('fontSize=6').settings, { fontSize: 6 });
    assert.deepEqual(fromQuery('fontSize=40').settings, { fontSize: 40 });
  });

  it('does not treat inherited object keys as settings', () => {
    assert.deepEqual(fromQuery('constructor=1&__proto__=x&toString=2'), {
      settings: {},
      problems: [],
    });
  });
});

describe('parseStoredSettings', () => {
  it('reads what SettingsStore wrote', () => {
    assert.deepEqual(parseStoredSettings('{"theme":"light","fontSize":18,"copyOnSelect":false}'), {
      settings: { theme: 'light', fontSize: 18, copyOnSelect: false },
      problems: [],
    });
  });

  it('treats nothing stored, broken JSON and non-objects as empty', () => {
    assert.deepEqual(parseStoredSettings(null), { settings: {}, problems: [] });
    assert.deepEqual(parseStoredSettings('{oops').settings, {});
    assert.match(parseStoredSettings('{oops').problems[0] ?? '', /not JSON/);
    assert.deepEqual(parseStoredSettings('[1,2]').settings, {});
    assert.deepEqual(parseStoredSettings('"light"').settings, {});
  });
});

describe('clampFontSize', () => {
  it('rounds and keeps the size within the range', () => {
    assert.equal(clampFontSize(13.6), 14);
    assert.equal(clampFontSize(1), FONT_SIZE_MIN);
    assert.equal(clampFontSize(99), FONT_SIZE_MAX);
    assert.equal(clampFontSize(DEFAULT_SETTINGS.fontSize), 14);
  });
});
