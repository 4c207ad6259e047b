// Bundle size: our client, partysocket alone and socket.io-client, each bundled
// by esbuild the same way (ESM, minified, browser) and gzipped at level 9.
// Prints one JSON line.
//
//   deno run -A bench/bundle_size.ts
import { gzipSync } from "node:zlib";

const root = new URL("..", import.meta.url).pathname;
const dir = await Deno.makeTempDir({ dir: `${root}bench`, prefix: ".bundle-" });
const entries: Record<string, string> = {
  steadysocket: `export { connect } from "${root}client/browser.ts";`,
  partysocket: `export { WebSocket } from "partysocket";`,
  "socket.io-client": `export { io } from "socket.io-client";`,
};
const out: Record<string, { minBytes: number; gzipBytes: number }> = {};
try {
  for (const [name, source] of Object.entries(entries)) {
    const entry = `${dir}/${name}.ts`;
    const file = `${dir}/${name}.js`;
    await Deno.writeTextFile(entry, source);
    const res = await new Deno.Command(`${root}node_modules/.bin/esbuild`, {
      args: [
        entry,
        "--bundle",
        "--minify",
        "--format=esm",
        "--platform=browser",
        "--target=es2022",
        `--outfile=${file}`,
      ],
      cwd: `${root}bench`,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!res.success) {
      throw new Error(
        `esbuild ${name}: ${new TextDecoder().decode(res.stderr)}`,
      );
    }
    const bytes = await Deno.readFile(file);
    out[name] = {
      minBytes: bytes.length,
      gzipBytes: gzipSync(bytes, { level: 9 }).length,
    };
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
console.log(JSON.stringify(out));
