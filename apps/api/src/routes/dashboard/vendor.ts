import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The browser libraries the dashboard uses, served from node_modules under /dashboard/vendor/ so the
 * page's CSP can stay `script-src 'self'` (no CDN, no inline code). Each is the package's own prebuilt
 * browser bundle, read once at startup; a missing package fails the API's start with its name.
 */
const LIBRARIES = [
  { url: '/dashboard/vendor/markdown-it.js', pkg: 'markdown-it', file: 'dist/browser/markdown-it.umd.min.js' },
  { url: '/dashboard/vendor/purify.js', pkg: 'dompurify', file: 'dist/purify.min.js' },
  { url: '/dashboard/vendor/chart.js', pkg: 'chart.js', file: 'dist/chart.umd.min.js' },
] as const;

export interface VendorAsset {
  url: string;
  body: string;
}

const require = createRequire(import.meta.url);

/** The package's root: its exports hide package.json and dist/, so walk up from its main entry. */
function packageRoot(pkg: string): string {
  let dir = dirname(require.resolve(pkg));
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (manifest.name === pkg) return dir;
    } catch {
      // no package.json here: keep walking up
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`dashboard: cannot find the root of package "${pkg}"; run npm ci`);
    dir = parent;
  }
}

/** Reads each library's bundle; the source-map comment is dropped (the map is not served). */
export function loadVendorAssets(): VendorAsset[] {
  return LIBRARIES.map(({ url, pkg, file }) => ({
    url,
    body: readFileSync(join(packageRoot(pkg), file), 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n'),
  }));
}
