import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * This package's root folder: the nearest folder above this code that holds a package.json.
 * Walked up rather than a fixed number of `..`, because the build bundles modules into files at
 * other depths of dist/ than the ones they were compiled to.
 */
function findPackageRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return join(__dirname, '..', '..');
    dir = parent;
  }
}

export const PACKAGE_ROOT: string = findPackageRoot();
