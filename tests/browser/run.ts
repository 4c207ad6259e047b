/// <reference lib="dom" />
/**
 * End-to-end test of the demo in a real browser: Debian's Chromium driven by
 * playwright-core, the demo server as a child process on a free port.
 *
 * Run: `deno run -A tests/browser/run.ts` (part of `deno task test`; `--no-bundle`
 * skips rebuilding dist/ first). Prints
 * one line per scenario and ends with Deno's summary line
 * (`ok | N passed | M failed (Xs)`), which scripts/test_all.ts reads.
 * A screenshot of the page is saved under test-output/.
 *
 * Every wait is on page state with a deadline (`waitForFunction`), never a sleep.
 */

import assert from "node:assert/strict";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { COUNT_SOCKETS, launchChromium } from "./_browser.ts";
import { DemoServer, freePort, type Runtime } from "./_server.ts";

const ROOT = new URL("../../", import.meta.url);
const OUTPUT = new URL("test-output/", ROOT);
/** How long a page may take to reach a state it is expected to reach. */
const DEADLINE = 15_000;

// ---------------------------------------------------------------- fixture

interface Fixture {
  browser: Browser;
  contexts: BrowserContext[];
  servers: DemoServer[];
}

let fixture: Fixture;

/** A page in its own browser context (its own network, so one can go offline alone). */
async function openPage(server: DemoServer, name: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await fixture.browser.newContext({ viewport: { width: 1100, height: 820 } });
  fixture.contexts.push(context);
  await context.addInitScript(COUNT_SOCKETS);
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error(`  [${name} page error] ${error.message}`));
  await page.goto(`${server.url}/?name=${encodeURIComponent(name)}`);
  await waitState(page, "open");
  return { context, page };
}

async function startServer(runtime: Runtime, port = freePort(), env: Record<string, string> = {}) {
  const server = await DemoServer.start(runtime, port, env);
  fixture.servers.push(server);
  return server;
}

function waitState(page: Page, state: string, timeout = DEADLINE) {
  return page.waitForFunction((s) => document.body.dataset.state === s, state, { timeout });
}

function waitChat(page: Page, text: string, timeout = DEADLINE) {
  return page.waitForFunction(
    (t) => [...document.querySelectorAll("#messages li.chat .text")].some((e) => e.textContent === t),
    text,
    { timeout },
  );
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill("#chat-text", text);
  await page.click("#chat-form button[type=submit]");
}

function waitOnline(page: Page, names: string[], timeout = DEADLINE) {
  return page.waitForFunction(
    (want) => {
      const have = [...document.querySelectorAll("#online li")].map((e) => e.getAttribute("data-name"));
      return want.every((n) => have.includes(n)) && have.length === want.length;
    },
    names,
    { timeout },
  );
}

const text = (page: Page, selector: string) => page.locator(selector).innerText();

// -------------------------------------------------------------- scenarios

const scenarios: [string, () => Promise<void>][] = [];
const scenario = (name: string, fn: () => Promise<void>) => scenarios.push([name, fn]);

let deno: DemoServer;
let alice: { context: BrowserContext; page: Page };
let bob: { context: BrowserContext; page: Page };

scenario("two pages connect, see each other online and chat (sender included)", async () => {
  deno = await startServer("deno");
  alice = await openPage(deno, "alice");
  bob = await openPage(deno, "bob");
  await waitOnline(alice.page, ["alice", "bob"]);
  await waitOnline(bob.page, ["alice", "bob"]);
  await say(alice.page, "hello from alice");
  await waitChat(alice.page, "hello from alice");
  await waitChat(bob.page, "hello from alice");
  await say(bob.page, "hi alice, bob here");
  await waitChat(alice.page, "hi alice, bob here");
  assert.equal(await text(alice.page, "#me"), "alice");
});

scenario("/metrics counts the open connections, /healthz answers", async () => {
  const metrics = await (await fetch(`${deno.url}/metrics`)).text();
  assert.match(metrics, /^# TYPE steadysocket_connections_open gauge$/m);
  assert.match(metrics, /^steadysocket_connections_open 2$/m, metrics);
  const health = await fetch(`${deno.url}/healthz`);
  assert.equal(health.status, 200);
  assert.equal((await health.json()).status, "ok");
});

scenario("a chat without a text string gets an error envelope; the connection goes on", async () => {
  const connectsBefore = await bob.page.evaluate(() => globalThis.demo.connects);
  await bob.page.evaluate(() => globalThis.demo.client.send("chat", { text: 42 }));
  await bob.page.waitForFunction(
    () =>
      [...document.querySelectorAll("#messages li.error")].some((e) =>
        e.textContent?.includes("payload.text")
      ),
    null,
    { timeout: DEADLINE },
  );
  assert.equal(await bob.page.evaluate(() => document.body.dataset.state), "open");
  await say(bob.page, "still here");
  await waitChat(alice.page, "still here");
  assert.equal(
    await bob.page.evaluate(() => globalThis.demo.connects),
    connectsBefore,
    "expected no reconnect",
  );
});

scenario("a WebSocket from a foreign Origin is refused with 403", async () => {
  // The pages' own same-origin upgrades are accepted: every other scenario shows it.
  assert.equal(await upgradeStatus(deno.port, "http://evil.example"), 403);
  assert.equal(await upgradeStatus(deno.port, "null"), 403);
});

scenario("server killed and restarted on the same port: both pages reconnect without a reload", async () => {
  await alice.page.evaluate(() => (globalThis as unknown as { marker: number }).marker = 1);
  await deno.kill();
  await Promise.all([waitState(alice.page, "reconnecting"), waitState(bob.page, "reconnecting")]);
  await alice.page.screenshot({ path: new URL("demo-reconnecting.png", OUTPUT).pathname });
  deno = await startServer("deno", deno.port);
  await Promise.all([waitState(alice.page, "open"), waitState(bob.page, "open")]);
  assert.equal(await alice.page.evaluate(() => (globalThis as unknown as { marker: number }).marker), 1);
  await waitOnline(alice.page, ["alice", "bob"]);
  await say(bob.page, "back after the restart");
  await waitChat(alice.page, "back after the restart");
  await waitChat(bob.page, "back after the restart");
  assert.match(await text(alice.page, "#last-close"), /^1006\b/);
  await alice.page.screenshot({ path: new URL("demo.png", OUTPUT).pathname, fullPage: true });
});

scenario("offline: the client waits without spinning, and is back as soon as the network is", async () => {
  const { context, page } = alice;
  await context.setOffline(true);
  await page.waitForFunction(() => document.body.dataset.state !== "open" && !navigator.onLine, null, {
    timeout: DEADLINE,
  });
  const before = await page.evaluate(() => ({
    sockets: globalThis.__sockets,
    attempt: globalThis.demo.attempt,
  }));
  // Hold the network down for several of the client's early retry delays
  // (0.5–2 s): a spinning client would construct sockets or bump its attempt counter.
  const spun = await page.waitForFunction(
    (b) => globalThis.__sockets !== b.sockets || globalThis.demo.attempt !== b.attempt,
    before,
    { timeout: 4_000 },
  ).then(() => true, () => false);
  const during = await page.evaluate(() => ({
    sockets: globalThis.__sockets,
    attempt: globalThis.demo.attempt,
  }));
  assert.equal(spun, false, `expected no attempts while offline, saw ${JSON.stringify({ before, during })}`);
  // A message sent while offline waits in the queue.
  await say(page, "typed while offline");
  assert.equal(await text(page, "#queued"), "1");
  assert.equal(await text(page, "#state"), "reconnecting (offline)");
  await page.screenshot({ path: new URL("demo-offline.png", OUTPUT).pathname });
  const t0 = performance.now();
  await context.setOffline(false);
  await waitState(page, "open", 3_000);
  const back = performance.now() - t0;
  console.log(`  back ${back.toFixed(0)} ms after the network returned`);
  await waitChat(bob.page, "typed while offline");
  assert.equal(await text(page, "#queued"), "0");
  // Offline, the open socket stopped answering: the client's liveness check closed it.
  await assertWatchdogClose(page);
});

scenario("'Ask server to close' with 1011 reconnects; with 1008 the client stops", async () => {
  const { page } = bob;
  const connects = await page.evaluate(() => globalThis.demo.connects);
  await page.selectOption("#close-code", "1011");
  await page.click("#ask-close");
  await page.waitForFunction(
    (n) => globalThis.demo.connects > n && document.body.dataset.state === "open",
    connects,
    {
      timeout: DEADLINE,
    },
  );
  assert.match(await text(page, "#last-close"), /^1011\b/);
  await page.selectOption("#close-code", "1008");
  await page.click("#ask-close");
  await waitState(page, "closed");
  assert.match(await text(page, "#last-close"), /^1008\b/);
  await page.click("#reconnect");
  await waitState(page, "open");
});

scenario("'Drop my connection' cuts the socket abruptly; the client notices and reconnects", async () => {
  const { page } = bob;
  const connects = await page.evaluate(() => globalThis.demo.connects);
  await page.click("#drop");
  await page.waitForFunction(
    (n) => globalThis.demo.connects > n && document.body.dataset.state === "open",
    connects,
    {
      timeout: DEADLINE,
    },
  );
  await assertWatchdogClose(page);
  await say(page, "after the drop");
  await waitChat(alice.page, "after the drop");
});

scenario("SIGTERM: every page gets 1001, the server exits 0", async () => {
  const status = await deno.stop("SIGTERM");
  assert.equal(status.code, 0, deno.output.join("\n"));
  await Promise.all(
    [alice.page, bob.page].map((page) =>
      page.waitForFunction(
        () => document.querySelector("#last-close")?.textContent?.startsWith("1001"),
        null,
        {
          timeout: DEADLINE,
        },
      )
    ),
  );
  for (const { context } of [alice, bob]) await context.close();
});

scenario("the same app on Bun: chat, presence, /metrics, SIGTERM exits 0", async () => {
  const bun = await startServer("bun");
  const carol = await openPage(bun, "carol");
  const dave = await openPage(bun, "dave");
  await waitOnline(carol.page, ["carol", "dave"]);
  await say(dave.page, "hello from bun");
  await waitChat(carol.page, "hello from bun");
  await waitChat(dave.page, "hello from bun");
  const metrics = await (await fetch(`${bun.url}/metrics`)).text();
  assert.match(metrics, /^steadysocket_connections_open 2$/m, metrics);
  assert.equal(await upgradeStatus(bun.port, "http://evil.example"), 403);
  await dave.context.close();
  await waitOnline(carol.page, ["carol"]);
  const status = await bun.stop("SIGTERM");
  assert.equal(status.code, 0, bun.output.join("\n"));
  await carol.page.waitForFunction(
    () => document.querySelector("#last-close")?.textContent?.startsWith("1001"),
    null,
    { timeout: DEADLINE },
  );
});

// ---------------------------------------------------------------- helpers

/** The client closed a silent socket itself: the page must show 4000 and the client's reason. */
async function assertWatchdogClose(page: Page): Promise<void> {
  const last = await page.evaluate(() => globalThis.demo.lastClose);
  assert.ok(
    last !== null && last.code === 4000 && typeof last.reason === "string",
    `expected the client's state to report close code 4000 with a string reason after it dropped a silent ` +
      `socket, got code ${JSON.stringify(String(last?.code))} and reason ${String(last?.reason)} ` +
      `(in browsers, partysocket re-creates its close event as new CloseEvent("close", event), ` +
      `so the code and reason of a close the client forces itself must not be read from that event)`,
  );
  assert.match(await text(page, "#last-close"), /^4000 heartbeat timeout/);
}

/** The HTTP status of a hand-written upgrade request with the given `Origin`. */
async function upgradeStatus(port: number, origin: string): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const request = [
      "GET /ws?name=origin-check HTTP/1.1",
      `Host: 127.0.0.1:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
      `Origin: ${origin}`,
      "",
      "",
    ].join("\r\n");
    await conn.write(new TextEncoder().encode(request));
    const buffer = new Uint8Array(1024);
    let head = "";
    while (!head.includes("\r\n")) {
      const n = await conn.read(buffer);
      if (n === null) break;
      head += new TextDecoder().decode(buffer.subarray(0, n));
    }
    const match = head.match(/^HTTP\/1\.1 (\d{3})/);
    if (!match) throw new Error(`expected an HTTP status line, got ${JSON.stringify(head.slice(0, 80))}`);
    return Number(match[1]);
  } finally {
    conn.close();
  }
}

// What the page exposes (examples/demo/public/app.js) and what COUNT_SOCKETS adds.
declare global {
  var __sockets: number;
  var demo: {
    // deno-lint-ignore no-explicit-any
    client: any;
    connects: number;
    attempt: number;
    lastClose: { code: unknown; reason: unknown } | null;
  };
}

// ----------------------------------------------------------------- runner

/** What every open page shows, to make a failure readable. */
async function describePages(): Promise<void> {
  for (const context of fixture.contexts) {
    for (const page of context.pages()) {
      try {
        const seen = await page.evaluate(() => ({
          url: location.href,
          state: document.body.dataset.state,
          lastClose: document.querySelector("#last-close")?.textContent,
          events: [...document.querySelectorAll("#event-log li")].slice(0, 8).map((e) => e.textContent),
        }));
        console.error(`  page ${JSON.stringify(seen, null, 2)}`);
      } catch { /* closed */ }
    }
  }
}

async function bundle(): Promise<void> {
  const status = await new Deno.Command(Deno.execPath(), {
    args: ["task", "bundle"],
    cwd: ROOT.pathname,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!status.success) {
    throw new Error(`expected \`deno task bundle\` to succeed, it exited with ${status.code}`);
  }
}

async function main(): Promise<number> {
  const started = performance.now();
  let passed = 0;
  let failed = 0;
  await Deno.mkdir(OUTPUT, { recursive: true });
  try {
    if (!Deno.args.includes("--no-bundle")) await bundle();
    fixture = { browser: await launchChromium(), contexts: [], servers: [] };
  } catch (error) {
    console.error(`setup failed: ${(error as Error).stack ?? error}`);
    console.log(`FAILED | 0 passed | 1 failed (${seconds(started)})`);
    return 1;
  }
  try {
    for (const [name, fn] of scenarios) {
      const t0 = performance.now();
      try {
        await fn();
        passed += 1;
        console.log(`${name} ... ok (${Math.round(performance.now() - t0)}ms)`);
      } catch (error) {
        failed += 1;
        console.log(`${name} ... FAILED (${Math.round(performance.now() - t0)}ms)`);
        console.error(`  ${(error as Error).stack ?? error}`);
        await describePages();
      }
    }
  } finally {
    for (const server of fixture.servers) await server.kill();
    await fixture.browser.close();
  }
  if (failed > 0) {
    for (const server of fixture.servers) {
      console.error(`--- ${server.runtime} demo output (port ${server.port}):\n${server.output.join("\n")}`);
    }
  }
  console.log(
    `\n${failed === 0 ? "ok" : "FAILED"} | ${passed} passed | ${failed} failed (${seconds(started)})`,
  );
  return failed === 0 ? 0 : 1;
}

function seconds(since: number): string {
  return `${Math.round((performance.now() - since) / 1000)}s`;
}

Deno.exit(await main());
