/**
 * Builds the npm package's code into `npm/`: every library module (`mod.ts`,
 * `protocol.ts`, `server/**`, `client/**`) as an ES module (`.js`, by esbuild,
 * one output per source, nothing bundled) next to its declarations (`.d.ts`,
 * by TypeScript's compiler). Relative `.ts` specifiers become `.js`, so Node,
 * Deno (which refuses TypeScript inside npm packages) and `tsc` consumers all
 * resolve the same files. JSR publishes the TypeScript source instead.
 *
 * Exits non-zero if the compiler reports an error or a relative `.ts`
 * specifier survives in the output.
 *
 * Usage: `deno task build:npm` (also run by `npm pack` / `npm publish` through
 * `prepack`).
 *
 * @example
 * ```sh
 * deno task build:npm
 * ```
 *
 * @module
 */

import * as esbuild from "esbuild";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const outDir = join(root, "npm");

/** The library's modules, relative to the root: what the package ships. */
function libraryModules(): string[] {
  const modules = ["mod.ts", "protocol.ts"];
  for (const dir of ["server", "client"]) {
    for (const entry of readdirSync(join(root, dir), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith(".ts") || entry.name.endsWith(".d.ts")) continue;
      modules.push(relative(root, join(entry.parentPath, entry.name)));
    }
  }
  return modules.sort();
}

// A relative specifier ending in `.ts` after `from`, `import` (side effect or
// dynamic) or `export ... from`; esbuild and tsc both print double quotes.
const RELATIVE_TS = /((?:\bfrom|\bimport)\s*\(?\s*)(["'])(\.{1,2}\/[^"'\n]*?)\.ts\2/g;

/** Rewrites relative `.ts` specifiers to `.js`. */
function rewriteSpecifiers(code: string): string {
  return code.replace(
    RELATIVE_TS,
    (_m, lead: string, quote: string, path: string) => `${lead}${quote}${path}.js${quote}`,
  );
}

async function transpile(modules: string[]): Promise<void> {
  try {
    const result = await esbuild.build({
      entryPoints: modules.map((m) => join(root, m)),
      outbase: root,
      outdir: outDir,
      bundle: false,
      format: "esm",
      platform: "neutral",
      // Native class fields and #private names, as in the browser bundle.
      target: "es2022",
      write: false,
      logLevel: "warning",
    });
    for (const file of result.outputFiles) {
      mkdirSync(dirname(file.path), { recursive: true });
      writeFileSync(file.path, rewriteSpecifiers(file.text));
    }
  } finally {
    await esbuild.stop();
  }
}

function declarations(modules: string[]): void {
  const tsc = join(root, "node_modules", ".bin", "tsc");
  if (!existsSync(tsc)) {
    throw new Error(`expected TypeScript's compiler at ${tsc}, found nothing: run npm install`);
  }
  const args = [
    "--declaration",
    "--emitDeclarationOnly",
    "--outDir",
    outDir,
    "--rootDir",
    root,
    "--target",
    "es2022",
    "--module",
    "esnext",
    "--moduleResolution",
    "bundler",
    "--allowImportingTsExtensions",
    // The library runs in browsers, Deno and Bun: web globals only, no Node,
    // Deno or Bun types (the adapters declare what they use themselves).
    "--lib",
    "es2022,dom,dom.iterable",
    "--types",
    "",
    "--strict",
    "--noImplicitOverride",
    "--skipLibCheck",
    "--pretty",
    "false",
    ...modules.map((m) => join(root, m)),
  ];
  const run = spawnSync(tsc, args, { cwd: root, encoding: "utf8" });
  if (run.status !== 0) {
    throw new Error(
      `expected tsc to emit declarations without errors, it exited ${run.status}:\n` +
        `${run.stdout}${run.stderr}`,
    );
  }
  for (const module of modules) {
    const file = join(outDir, module.replace(/\.ts$/, ".d.ts"));
    writeFileSync(file, rewriteSpecifiers(readFileSync(file, "utf8")));
  }
}

/** Fails if an output still imports a relative `.ts` file or a missing `.js` file. */
function verify(modules: string[]): void {
  const problems: string[] = [];
  for (const module of modules) {
    for (const file of [module.replace(/\.ts$/, ".js"), module.replace(/\.ts$/, ".d.ts")]) {
      const path = join(outDir, file);
      if (!existsSync(path)) {
        problems.push(`npm/${file}: expected it to be written, it is missing`);
        continue;
      }
      const code = readFileSync(path, "utf8");
      for (const match of code.matchAll(RELATIVE_TS)) {
        problems.push(`npm/${file}: still imports ${match[3]}.ts`);
      }
      for (const match of code.matchAll(/\bfrom\s*"(\.{1,2}\/[^"]+\.js)"/g)) {
        if (!existsSync(join(dirname(path), match[1]))) {
          problems.push(`npm/${file}: imports missing ${match[1]}`);
        }
      }
    }
  }
  if (problems.length > 0) throw new Error(`npm build output is broken:\n  ${problems.join("\n  ")}`);
}

if (import.meta.main) {
  const started = performance.now();
  const modules = libraryModules();
  rmSync(outDir, { recursive: true, force: true });
  try {
    await transpile(modules);
    declarations(modules);
    verify(modules);
  } catch (error) {
    console.error(`build:npm: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
  console.log(
    `npm/: ${modules.length} modules (.js + .d.ts) in ${Math.round(performance.now() - started)} ms`,
  );
}
