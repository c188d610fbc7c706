// The README is read outside a checkout too (the npm page, an installed package): its links to
// the docs and screenshots are absolute, into the published package, and name files it ships.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const read = (path) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const pkg = JSON.parse(read('package.json'));
const PACKAGE_FILES = `https://unpkg.com/${pkg.name}/`;

describe('README links', () => {
  const readme = read('README.md');
  const targets = [...readme.matchAll(/\]\(([^)\s]+)\)|src="([^"]+)"/g)].map((m) => m[1] ?? m[2]);

  it('are anchors or absolute URLs: no path that only a checkout has', () => {
    const relative = targets.filter((target) => !/^(#|https:\/\/)/.test(target));
    assert.deepEqual(relative, []);
  });

  it('into the package name files that exist and that the package ships', () => {
    const intoPackage = targets.filter((target) => target.startsWith(PACKAGE_FILES));
    assert.ok(intoPackage.length > 0);
    for (const target of intoPackage) {
      const path = target.slice(PACKAGE_FILES.length).replace(/#.*$/, '');
      assert.ok(existsSync(new URL(`../${path}`, import.meta.url)), `${path} exists`);
      assert.ok(
        pkg.files.some(
          (entry) => path === entry || (entry.endsWith('/') && path.startsWith(entry)),
        ),
        `${path} is in package.json files`,
      );
    }
  });

  it('name the repository, or the npm page as the homepage, in package.json', () => {
    assert.ok(
      pkg.repository !== undefined || pkg.homepage === `https://www.npmjs.com/package/${pkg.name}`,
    );
  });
});
