/**
 * The npm package as its consumers see it: built JavaScript and declarations
 * behind package.json's `exports`, imported by bare specifier from Node, Deno
 * and Bun, and type-checked by `tsc` and `deno check`.
 *
 * Two tests: one against the working tree (`npm/` and package.json copied
 * into a scratch project's `node_modules/steadysocket`), one against the packed
 * tarball installed with `npm install` (checks the `files` list too; set
 * `STEADYSOCKET_SKIP_NPM_PACK=1` to skip it where the npm registry is out of
 * reach, as installing resolves partysocket).
 */

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "../_harness.ts";

const root = new URL("../../", import.meta.url).pathname;
const tools = `${root}tools/node_modules/.bin/`;
const bun = existsSync(`${tools}bun`) ? `${tools}bun` : "bun";
const tsc = `${root}node_modules/.bin/tsc`;

interface Output {
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; rejects with its output on a non-zero exit or after `timeoutMs`. */
async function run(cmd: string, args: string[], cwd: string, timeoutMs = 60_000): Promise<Output> {
  const signal = AbortSignal.timeout(timeoutMs);
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped", signal }).output();
  const decoder = new TextDecoder();
  const stdout = decoder.decode(out.stdout);
  const stderr = decoder.decode(out.stderr);
  if (!out.success) {
    const why = signal.aborted ? `was killed after ${timeoutMs} ms` : `exited ${out.code}`;
    throw new Error(`expected \`${cmd} ${args.join(" ")}\` to succeed, it ${why}:\n${stdout}${stderr}`);
  }
  return { stdout, stderr };
}

/** The last line of stdout, parsed: each probe prints one JSON line at the end. */
function lastJson(out: Output): Record<string, unknown> {
  const lines = out.stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

// Node 20 has no global WebSocket: import every entry, construct what needs no
// socket, and admit a plain request (the upgrade guard answers 426).
const NODE_PROBE = `
import * as main from "steadysocket";
import { CloseCode, shouldReconnect } from "steadysocket/protocol";
import { createEndpoint, silentLogger } from "steadysocket/server";
import { backoffDelay, connect } from "steadysocket/client";
import { denoHandler } from "steadysocket/deno";
import { bunHandlers } from "steadysocket/bun";
import { honoWebSocket } from "steadysocket/hono";
const endpoint = createEndpoint({ logger: silentLogger, message(conn, msg) { conn.sendJson(msg); } });
const admission = await endpoint.admit(new Request("http://127.0.0.1/ws"));
const handler = denoHandler(endpoint);
const { fetch, websocket } = bunHandlers(endpoint);
const hono = honoWebSocket(endpoint, () => () => undefined);
await endpoint.shutdown({ deadlineMs: 100 });
console.log(JSON.stringify({
  refused: admission.ok ? 0 : admission.response.status,
  reconnectAfterGoingAway: shouldReconnect(CloseCode.GoingAway),
  sameProtocol: main.CloseCode === CloseCode,
  backoff: backoffDelay(3, { minDelayMs: 100, spreadMs: 100, maxDelayMs: 1_000, growth: 2 }, () => 1),
  functions: [connect, handler, fetch, websocket.message, hono].every((f) => typeof f === "function"),
}));
`;

/** A real round trip on loopback: the runtime's adapter, the client, a 426 for a plain request. */
function roundTripProbe(runtime: "deno" | "bun"): string {
  const serve = runtime === "deno"
    ? `import { denoHandler } from "steadysocket/deno";
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, denoHandler(endpoint));
const port = server.addr.port;
const stop = () => server.shutdown();`
    : `import { bunHandlers } from "steadysocket/bun";
const server = Bun.serve({ hostname: "127.0.0.1", port: 0, ...bunHandlers(endpoint) });
const port = server.port;
const stop = () => server.stop(true);`;
  return `
import { createEndpoint, silentLogger } from "steadysocket/server";
import { connect } from "steadysocket/client";
import { CloseCode } from "steadysocket/protocol";
const endpoint = createEndpoint({ logger: silentLogger, message(conn, msg) { conn.sendJson({ type: "echo", payload: msg.payload }); } });
${serve}
const plain = await fetch(\`http://127.0.0.1:\${port}/ws\`);
await plain.body?.cancel();
const client = connect(\`ws://127.0.0.1:\${port}/ws\`);
let timer;
const echoed = await new Promise((resolve, reject) => {
  timer = setTimeout(() => reject(new Error("expected an echo within 10 s, got none")), 10_000);
  client.on("echo", resolve);
  client.send("echo", { n: 42 });
}).finally(() => clearTimeout(timer));
await client.close();
await endpoint.shutdown({ deadlineMs: 1_000 });
await stop();
console.log(JSON.stringify({ plain: plain.status, echoed, goingAway: CloseCode.GoingAway }));
`;
}

// Typed use of every entry but Hono (an optional peer); the expected errors
// prove the declarations carry real types rather than \`any\`.
const CONSUMER = `
import { CloseCode, shouldReconnect } from "steadysocket/protocol";
import { ClientError, createEndpoint, type Endpoint } from "steadysocket/server";
import { connect, type SendResult, type SteadyClient } from "steadysocket/client";
import { denoHandler } from "steadysocket/deno";
import { bunHandlers } from "steadysocket/bun";
import { CLOSE_CODES } from "steadysocket";

interface User { name: string }
const endpoint: Endpoint<User> = createEndpoint<User>({
  message(conn, msg) {
    if (msg.type !== "echo") throw new ClientError("expected echo");
    conn.sendJson({ type: "echo", payload: msg.payload });
  },
});
const handler: (request: Request) => Promise<Response> = denoHandler(endpoint);
const fetchHandler = bunHandlers(endpoint).fetch;
const client: SteadyClient = connect("ws://127.0.0.1:1/ws");
const result: SendResult = client.send("echo", { n: 1 });
const again: boolean = shouldReconnect(CloseCode.GoingAway);
const named: string | undefined = CLOSE_CODES[CloseCode.GoingAway]?.name;
// @ts-expect-error: a close code is a number
const wrong: string = CloseCode.GoingAway;
// @ts-expect-error: send takes a message type first
client.send({ type: "echo" });
export { again, fetchHandler, handler, named, result, wrong };
`;

function tsconfig(module: "nodenext" | "preserve", resolution: "nodenext" | "bundler"): string {
  return JSON.stringify({
    compilerOptions: {
      target: "es2022",
      module,
      moduleResolution: resolution,
      lib: ["es2022", "dom", "dom.iterable"],
      types: [],
      strict: true,
      noEmit: true,
      // Check the shipped declarations too, not only their use.
      skipLibCheck: false,
    },
    files: ["consumer.ts"],
  });
}

/** Imports and type-checks the package from a scratch project whose node_modules holds it. */
async function probeProject(dir: string): Promise<void> {
  await Deno.writeTextFile(`${dir}/node_probe.mjs`, NODE_PROBE);
  await Deno.writeTextFile(`${dir}/deno_probe.mjs`, roundTripProbe("deno"));
  await Deno.writeTextFile(`${dir}/bun_probe.mjs`, roundTripProbe("bun"));
  await Deno.writeTextFile(`${dir}/consumer.ts`, CONSUMER);
  await Deno.writeTextFile(`${dir}/tsconfig.nodenext.json`, tsconfig("nodenext", "nodenext"));
  await Deno.writeTextFile(`${dir}/tsconfig.bundler.json`, tsconfig("preserve", "bundler"));

  const [node, deno, bunOut] = await Promise.all([
    run("node", ["node_probe.mjs"], dir),
    run(Deno.execPath(), ["run", "-A", "deno_probe.mjs"], dir),
    run(bun, ["run", "bun_probe.mjs"], dir),
  ]);
  assert.deepEqual(lastJson(node), {
    refused: 426,
    reconnectAfterGoingAway: true,
    sameProtocol: true,
    backoff: 500,
    functions: true,
  });
  // Deno refuses TypeScript inside npm packages: this passing means it got JavaScript.
  for (const [name, out] of [["deno", deno], ["bun", bunOut]] as const) {
    assert.deepEqual(lastJson(out), { plain: 426, echoed: { n: 42 }, goingAway: 1001 }, name);
  }
  for (const config of ["tsconfig.nodenext.json", "tsconfig.bundler.json"]) {
    await run(tsc, ["-p", config, "--pretty", "false"], dir);
  }
  // Deno type-checks npm packages through their \`types\` condition too.
  await run(Deno.execPath(), ["check", "consumer.ts"], dir);
}

async function scratchProject(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "steadysocket-npm-" });
  await Deno.writeTextFile(
    `${dir}/package.json`,
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
  return dir;
}

test("npm build: Node, Deno, Bun and tsc use the working tree's build by bare specifier", async () => {
  await run(Deno.execPath(), ["run", "-A", "scripts/build_npm.ts"], root);
  const dir = await scratchProject();
  try {
    // What the package holds of the working tree (a link to the root would not
    // do: Deno treats files outside node_modules as local code, not npm's).
    const pkg = `${dir}/node_modules/steadysocket`;
    await Deno.mkdir(pkg, { recursive: true });
    await Deno.copyFile(`${root}package.json`, `${pkg}/package.json`);
    await run("cp", ["-R", `${root}npm`, `${pkg}/npm`], root);
    await Deno.symlink(`${root}node_modules/partysocket`, `${dir}/node_modules/partysocket`);
    await probeProject(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}, { only: "deno" });

test("npm package: the packed tarball installs and works in Node, Deno, Bun and tsc", async () => {
  if (Deno.env.get("STEADYSOCKET_SKIP_NPM_PACK") === "1") return;
  const pkg = JSON.parse(await Deno.readTextFile(`${root}package.json`));
  assert.match(pkg.scripts.prepack, /build:npm/, "prepack builds npm/");
  // Build here and pack without scripts: prepack would also rebuild dist/,
  // which other tests of the suite may be reading.
  await run(Deno.execPath(), ["run", "-A", "scripts/build_npm.ts"], root);
  const dir = await scratchProject();
  try {
    const packed = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], root);
    const [{ filename, files }] = JSON.parse(packed.stdout) as [
      { filename: string; files: { path: string }[] },
    ];
    const paths = files.map((f) => f.path);
    assert.ok(paths.includes("npm/server/adapters/deno.js"), "the adapters' JavaScript is packed");
    assert.ok(paths.includes("npm/client/mod.d.ts"), "the declarations are packed");
    const strays = paths.filter((p) =>
      p.endsWith(".ts") && !p.endsWith(".d.ts") || /^(tests|bench|tools|examples|scripts)\//.test(p)
    );
    assert.deepEqual(strays, [], "no TypeScript source, tests or tooling in the package");

    await run(
      "npm",
      ["install", "--no-audit", "--no-fund", "--ignore-scripts", `./${filename}`],
      dir,
      120_000,
    );
    await probeProject(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}, { only: "deno" });
