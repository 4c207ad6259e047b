/**
 * Bundles the browser client with esbuild into `dist/`:
 *
 * - `dist/steadysocket.js`: minified ESM (`import { connect } from "/dist/steadysocket.js"`);
 * - `dist/steadysocket.global.js`: a classic script defining one global, `steadysocket`;
 *
 * each with a source map. Prints the minified and gzipped sizes and exits
 * non-zero if a bundle is above the budget (6 KB gzipped, partysocket included).
 *
 * Usage: `deno task bundle`.
 *
 * @example
 * ```sh
 * deno task bundle
 * ```
 *
 * @module
 */

import * as esbuild from "esbuild";
import { gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";

const BUDGET_GZIP_BYTES = 6 * 1024;
const entry = new URL("../client/browser.ts", import.meta.url).pathname;
const outDir = new URL("../dist/", import.meta.url).pathname;

const common: esbuild.BuildOptions = {
  entryPoints: [entry],
  bundle: true,
  minify: true,
  sourcemap: true,
  // Native class fields and #private names: lowering them would cost size and speed.
  target: "es2022",
  platform: "browser",
  legalComments: "none",
  // partysocket's developer warnings (missing WebSocket or EventTarget in Node,
  // send() after close()) cannot happen in a browser through our client, which
  // never calls partysocket's send(); dropping them saves about 0.5 KB gzipped.
  pure: ["console.warn", "console.error"],
  logLevel: "warning",
};

const outputs = [
  { file: "steadysocket.js", options: { format: "esm" } },
  { file: "steadysocket.global.js", options: { format: "iife", globalName: "steadysocket" } },
] as const;

let over = false;
try {
  for (const { file, options } of outputs) {
    await esbuild.build({ ...common, ...options, outfile: outDir + file });
    const code = readFileSync(outDir + file);
    const gzipped = gzipSync(code, { level: 9 }).length;
    const ok = gzipped <= BUDGET_GZIP_BYTES;
    if (!ok) over = true;
    console.log(
      `dist/${file.padEnd(24)} ${kb(code.length).padStart(8)} minified  ${kb(gzipped).padStart(8)} gzipped` +
        `  ${ok ? "ok" : `OVER the ${kb(BUDGET_GZIP_BYTES)} budget`}`,
    );
  }
} finally {
  await esbuild.stop();
}
if (over) {
  console.error(`bundle: expected at most ${BUDGET_GZIP_BYTES} bytes gzipped per file, a file is above it`);
  Deno.exit(1);
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(2)} KB`;
}
