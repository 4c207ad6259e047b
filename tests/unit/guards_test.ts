import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import { lifecycleOf } from "../../server/endpoint.ts";
import { hasToken } from "../../server/guards.ts";
import { createEndpoint, UpgradeRefused } from "../../server/mod.ts";
import type { EndpointOptions } from "../../server/types.ts";
import { ManualClock, MemoryLogger, openFake, upgradeRequest } from "./_fake_socket.ts";

function endpoint<T>(options: EndpointOptions<T> = {}) {
  const logger = new MemoryLogger();
  const ep = createEndpoint<T>({ clock: new ManualClock(), logger, ...options });
  return { ep, logger };
}

async function refused<T>(
  ep: ReturnType<typeof endpoint<T>>["ep"],
  request: Request,
  status: number,
  address?: string,
): Promise<string> {
  const admission = await ep.admit(request, { remoteAddress: address });
  assert.equal(admission.ok, false, `expected a refusal with ${status}`);
  if (admission.ok) throw new Error("unreachable");
  assert.equal(admission.response.status, status);
  assert.match(admission.response.headers.get("content-type") ?? "", /^text\/plain/);
  return await admission.response.text();
}

function nothingRegistered<T>(ep: ReturnType<typeof endpoint<T>>["ep"]): void {
  assert.equal(ep.hub.size, 0);
  assert.equal(lifecycleOf(ep).active, 0);
  assert.equal(lifecycleOf(ep).perAddress.size, 0);
  assert.equal(ep.stats().opened, 0);
}

test("guard 426: not an upgrade; headers compared case-insensitively, Connection as a token list", async () => {
  const { ep } = endpoint();
  const plain = new Request("http://localhost:8000/ws", { headers: { host: "localhost:8000" } });
  assert.match(await refused(ep, plain, 426), /expected header "Upgrade: websocket", got none/);
  const post = new Request("http://localhost:8000/ws", {
    method: "POST",
    headers: { upgrade: "websocket", connection: "upgrade" },
  });
  assert.match(await refused(ep, post, 426), /GET/);
  const noConnection = new Request("http://localhost:8000/ws", { headers: { upgrade: "websocket" } });
  assert.match(await refused(ep, noConnection, 426), /Connection: Upgrade/);
  const mixed = upgradeRequest("http://localhost:8000/ws", {
    upgrade: "WebSocket",
    connection: "keep-alive, Upgrade",
  });
  const admission = await ep.admit(mixed);
  assert.ok(admission.ok, "Upgrade: WebSocket with Connection: keep-alive, Upgrade is an upgrade");
  admission.session.abandon();
  assert.deepEqual(ep.stats().upgradesRefused, { not_upgrade: 3 });
  nothingRegistered(ep);
});

test("hasToken: the token alone or in a list, in any case; another word of its length is not it", () => {
  assert.equal(hasToken("websocket", "websocket"), true);
  assert.equal(hasToken("WebSocket", "websocket"), true, "alone, in another case");
  assert.equal(hasToken("websockex", "websocket"), false, "the same length, another word");
  assert.equal(hasToken(" websocket", "websocket"), true, "space around it");
  assert.equal(hasToken("h2c, WEBSOCKET", "websocket"), true, "in a list");
  assert.equal(hasToken("keep-alive", "upgrade"), false);
  assert.equal(hasToken("", "upgrade"), false);
  assert.equal(hasToken(null, "upgrade"), false);
});

test("guard 400/426: the handshake headers are checked (version 13, a 16-byte base64 key)", async () => {
  const { ep } = endpoint();
  const url = "http://localhost:8000/ws";
  const cases: [Record<string, string>, number, RegExp][] = [
    [{ "sec-websocket-version": "8" }, 426, /expected Sec-WebSocket-Version 13, got "8"/],
    [{ "sec-websocket-key": "" }, 400, /16 bytes in base64, got ""/],
    [{ "sec-websocket-key": "c2hvcnQ=" }, 400, /16 bytes in base64/],
  ];
  for (const [headers, status, message] of cases) {
    assert.match(await refused(ep, upgradeRequest(url, headers), status), message);
  }
  const noVersion = new Request(url, {
    headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" },
  });
  const response = await ep.admit(noVersion);
  assert.ok(!response.ok && response.response.status === 400);
  assert.equal(response.ok ? undefined : response.response.headers.get("sec-websocket-version"), "13");
  assert.deepEqual(ep.stats().upgradesRefused, { bad_handshake: 4 });
  nothingRegistered(ep);
});

test("guard 403: same-origin by default; no Origin allowed; cross-origin and null refused", async () => {
  const { ep } = endpoint();
  const url = "http://localhost:8000/ws";
  for (const origin of ["http://evil.example", "null", "https://localhost:8000", "http://localhost:8001"]) {
    const text = await refused(ep, upgradeRequest(url, { origin }), 403);
    assert.match(text, /origin .* is not allowed/);
  }
  const passing: Record<string, string>[] = [{}, { origin: "http://localhost:8000" }, {
    origin: "http://LOCALHOST:8000",
  }];
  for (const headers of passing) {
    const admission = await ep.admit(upgradeRequest(url, headers));
    assert.ok(admission.ok, `expected ${JSON.stringify(headers)} to pass`);
    admission.session.abandon();
  }
  // Default ports are normalized: Host "example.com" and Origin "http://example.com:80" are the same origin.
  const viaDefaultPort = upgradeRequest("http://example.com/ws", { origin: "http://example.com:80" });
  const ok = await ep.admit(viaDefaultPort);
  assert.ok(ok.ok);
  ok.session.abandon();
  assert.deepEqual(ep.stats().upgradesRefused, { origin: 4 });
  nothingRegistered(ep);
});

test("guard 403: allow-list, any, and a policy function (a throwing one answers 500)", async () => {
  const url = "http://localhost:8000/ws";
  const list = endpoint({ origins: ["https://app.example"] }).ep;
  const passed = await list.admit(upgradeRequest(url, { origin: "https://APP.example:443" }));
  assert.ok(passed.ok);
  passed.session.abandon();
  await refused(list, upgradeRequest(url, { origin: "http://localhost:8000" }), 403);
  await refused(list, upgradeRequest(url, { origin: "null" }), 403);

  const any = endpoint({ origins: "any" }).ep;
  const anyOk = await any.admit(upgradeRequest(url, { origin: "null" }));
  assert.ok(anyOk.ok);
  anyOk.session.abandon();

  const seen: (string | null)[] = [];
  const fn = endpoint({ origins: (origin) => (seen.push(origin), origin === "https://ok.example") }).ep;
  await refused(fn, upgradeRequest(url), 403);
  const fnOk = await fn.admit(upgradeRequest(url, { origin: "https://ok.example" }));
  assert.ok(fnOk.ok);
  fnOk.session.abandon();
  assert.deepEqual(seen, [null, "https://ok.example"]);

  const { ep: throwing, logger } = endpoint({
    origins: () => {
      throw new Error("policy bug");
    },
  });
  await refused(throwing, upgradeRequest(url), 500);
  assert.equal(logger.at("error").length, 1);
  nothingRegistered(throwing);
});

test("guard 503: capacity in all and per address; slots come back when connections close", async () => {
  const { ep } = endpoint({ maxConnections: 3, maxConnectionsPerAddress: 2 });
  const a1 = await openFake(ep, { remoteAddress: "10.0.0.1" });
  const a2 = await openFake(ep, { remoteAddress: "10.0.0.1" });
  assert.match(
    await refused(ep, upgradeRequest(), 503, "10.0.0.1"),
    /too many connections from this address/,
  );
  const b1 = await openFake(ep, { remoteAddress: "10.0.0.2" });
  assert.match(await refused(ep, upgradeRequest(), 503, "10.0.0.3"), /server is full: 3/);
  assert.deepEqual(ep.stats().upgradesRefused, { capacity_per_address: 1, capacity: 1 });
  a1.session.closed(1000, "");
  // A pending (admitted, not yet open) session holds its slot too.
  const pending = await ep.admit(upgradeRequest(), { remoteAddress: "10.0.0.1" });
  assert.ok(pending.ok);
  await refused(ep, upgradeRequest(), 503, "10.0.0.4");
  pending.session.abandon();
  a2.conn.close();
  b1.session.errored(new Error("reset"));
  assert.equal(lifecycleOf(ep).active, 0);
  assert.equal(lifecycleOf(ep).perAddress.size, 0);
  const again = await openFake(ep, { remoteAddress: "10.0.0.1" });
  assert.equal(ep.hub.size, 1);
  again.conn.close();
});

test("guard 401/403/500: authenticate refusals answer plainly and leave nothing reserved", async () => {
  let mode = "";
  const { ep, logger } = endpoint<{ user: string }>({
    maxConnectionsPerAddress: 1,
    async authenticate(request) {
      await Promise.resolve();
      if (mode === "none") return undefined;
      if (mode === "forbid") throw new UpgradeRefused(403, 'account "x" suspended');
      if (mode === "bug") throw new TypeError("database down");
      return { user: new URL(request.url).searchParams.get("u") ?? "?" };
    },
  });
  mode = "none";
  assert.match(await refused(ep, upgradeRequest(), 401, "1.1.1.1"), /authentication required/);
  mode = "forbid";
  assert.match(await refused(ep, upgradeRequest(), 403, "1.1.1.1"), /account "x" suspended/);
  mode = "bug";
  const text = await refused(ep, upgradeRequest(), 500, "1.1.1.1");
  assert.doesNotMatch(text, /database/, "internal errors are not shown to the peer");
  const err = logger.at("error")[0];
  assert.match(String(err.fields?.stack), /database down/);
  assert.deepEqual(ep.stats().upgradesRefused, { auth_401: 1, auth_403: 1, auth_error: 1 });
  nothingRegistered(ep);
  mode = "";
  const ok = await openFake(ep, {
    remoteAddress: "1.1.1.1",
    request: upgradeRequest("http://localhost:8000/ws?u=ann"),
  });
  assert.deepEqual(ok.conn.data, { user: "ann" });
});

test("UpgradeRefused keeps 4xx/5xx statuses and turns anything else into 403", () => {
  assert.equal(new UpgradeRefused(429, "slow down").status, 429);
  assert.equal(new UpgradeRefused(200, "odd").status, 403);
  assert.equal(new UpgradeRefused(401, "who?").message, "who?");
});

test("guard 503: shutdown in progress, including one that began while authenticate was running", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const { ep } = endpoint({
    async authenticate() {
      await gate;
      return { ok: true };
    },
  });
  const inFlight = ep.admit(upgradeRequest());
  const report = await ep.shutdown();
  assert.equal(report.connections, 0);
  release();
  const late = await inFlight;
  assert.equal(late.ok, false);
  if (!late.ok) assert.equal(late.response.status, 503);
  assert.match(await refused(ep, upgradeRequest(), 503), /shutting down/);
  assert.deepEqual(ep.stats().upgradesRefused, { shutdown: 2 });
  nothingRegistered(ep);
});

test("an admitted upgrade that never opens, errs or closes gives its slot back after 10 s", async () => {
  const clock = new ManualClock();
  const logger = new MemoryLogger();
  const ep = createEndpoint({ clock, logger, maxConnectionsPerAddress: 1 });
  const lost = await ep.admit(upgradeRequest(), { remoteAddress: "3.3.3.3" });
  assert.ok(lost.ok);
  await refused(ep, upgradeRequest(), 503, "3.3.3.3");
  clock.advance(9_999);
  await refused(ep, upgradeRequest(), 503, "3.3.3.3");
  clock.advance(1);
  const next = await openFake(ep, { remoteAddress: "3.3.3.3" });
  assert.equal(logger.at("warn")[0].message, "upgrade never completed; slot released");
  // The lost session waking up late changes nothing.
  lost.session.opened();
  lost.session.closed(1000, "");
  assert.equal(lifecycleOf(ep).perAddress.get("3.3.3.3"), 1);
  assert.equal(ep.stats().opened, 1);
  next.conn.close();
  assert.equal(lifecycleOf(ep).active, 0);
});

test("the heartbeat sweep also reaps upgrades that never completed", async () => {
  const clock = new ManualClock();
  const ep = createEndpoint({ clock, logger: new MemoryLogger() });
  const live = await openFake(ep);
  const lost = await ep.admit(upgradeRequest(), { remoteAddress: "4.4.4.4" });
  assert.ok(lost.ok);
  assert.equal(lifecycleOf(ep).pending.size, 1);
  clock.advance(15_000);
  assert.equal(lifecycleOf(ep).pending.size, 0);
  assert.equal(lifecycleOf(ep).perAddress.has("4.4.4.4"), false);
  assert.equal(lifecycleOf(ep).active, 1);
  live.conn.close();
});
