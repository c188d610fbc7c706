import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { credentialFromFragment, pageLink, parseFragment, socketUrl } from './credential.js';

describe('parseFragment', () => {
  const id = '0123456789abcdef0123456789abcdef';

  it('reads the token, the shell to join and a share link’s secret', () => {
    assert.deepEqual(parseFragment(`#token=T0k&session=${id}`), { token: 'T0k', session: id });
    assert.deepEqual(parseFragment('#share=xjs-share-abc_-9'), { share: 'xjs-share-abc_-9' });
    assert.equal(credentialFromFragment('#token=a%2Bb'), 'a+b');
  });

  it('ignores empty values and a session id that is not one', () => {
    assert.deepEqual(parseFragment('#token=&session=nope&share='), {});
    assert.deepEqual(parseFragment(`#session=${id.toUpperCase()}`), { session: id });
    assert.deepEqual(parseFragment(''), {});
  });
});

describe('pageLink and socketUrl', () => {
  it('resolves the API’s ./#share= link against the page, without its fragment or query', () => {
    const page = 'https://host/xterm-js-shell/me/?theme=light#token=secret';
    assert.equal(
      pageLink(page, './#share=xjs-share-x'),
      'https://host/xterm-js-shell/me/#share=xjs-share-x',
    );
    // A fragment alone keeps the page's query (its settings), not its old fragment.
    assert.equal(
      pageLink(page, `#session=${'a'.repeat(32)}`),
      `https://host/xterm-js-shell/me/?theme=light#session=${'a'.repeat(32)}`,
    );
    assert.equal(socketUrl(page), 'wss://host/xterm-js-shell/me/');
  });
});
