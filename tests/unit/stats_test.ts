import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import { closeLogLevel, consoleLogger, createEndpoint, prometheusText } from "../../server/mod.ts";
import { escapeLabel, StatsCounter } from "../../server/stats.ts";
import { ManualClock, MemoryLogger, openFake, upgradeRequest } from "./_fake_socket.ts";

test("stats: counters follow the traffic", async () => {
  const clock = new ManualClock();
  const ep = createEndpoint({
    clock,
    logger: new MemoryLogger(),
    heartbeat: { pingAfterMs: 100, timeoutMs: 100 },
    message: (conn, msg) => void conn.sendJson(msg),
  });
  const a = await openFake(ep);
  const b = await openFake(ep);
  a.session.received('{"type":"x"}');
  a.session.received("nope");
  b.socket.sendThrows = new Error("pipe");
  b.session.received('{"type":"y"}');
  clock.advance(100); // a gets pinged
  clock.advance(100); // and times out
  await ep.admit(new Request("http://localhost:8000/ws"));
  const s = ep.stats();
  assert.equal(s.open, 0);
  assert.equal(s.opened, 2);
  assert.equal(s.closed, 2);
  assert.deepEqual(s.closedByCode, { "1011": 1, "4000": 1 });
  assert.equal(s.messagesIn, 3);
  assert.equal(s.messagesOut, 3); // echo, error envelope, ping
  assert.equal(s.bytesIn, 12 + 4 + 12);
  assert.equal(s.sendsDropped, 1);
  assert.equal(s.pingsSent, 1);
  assert.equal(s.heartbeatTimeouts, 1);
  assert.deepEqual(s.upgradesRefused, { not_upgrade: 1 });
  s.closedByCode["1011"] = 99;
  assert.equal(ep.stats().closedByCode["1011"], 1, "stats() returns a copy");
});

test("metrics: Prometheus text with HELP/TYPE lines, labelled counters, escaped labels", async () => {
  const ep = createEndpoint({
    clock: new ManualClock(),
    logger: new MemoryLogger(),
    origins: ["https://a.example"],
  });
  const a = await openFake(ep);
  a.session.closed(1000, "");
  await ep.admit(upgradeRequest("http://localhost:8000/ws", { origin: "https://b.example" }));
  const text = ep.metrics();
  assert.ok(text.endsWith("\n"));
  for (
    const line of [
      "# TYPE steadysocket_connections_open gauge",
      "steadysocket_connections_open 0",
      "# TYPE steadysocket_connections_opened_total counter",
      "steadysocket_connections_opened_total 1",
      'steadysocket_connections_closed_total{code="1000"} 1',
      'steadysocket_upgrades_refused_total{reason="origin"} 1',
      "steadysocket_messages_in_total 0",
      "steadysocket_messages_out_total 0",
      "steadysocket_sends_dropped_total 0",
      "steadysocket_pings_sent_total 0",
      "steadysocket_heartbeat_timeouts_total 0",
      "steadysocket_slow_consumers_total 0",
      "steadysocket_handler_errors_total 0",
      "steadysocket_socket_errors_total 0",
    ]
  ) {
    assert.ok(text.split("\n").includes(line), `missing line: ${line}`);
  }
  // Every sample has its HELP and TYPE first.
  const names = new Set(
    text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(/[{ ]/)[0]),
  );
  for (const name of names) {
    assert.ok(text.includes(`# HELP ${name} `), name);
    assert.ok(text.includes(`# TYPE ${name} `), name);
  }
  assert.equal(escapeLabel('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  const counter = new StatsCounter();
  counter.countRefusal('we"ird\n');
  assert.ok(prometheusText(counter.snapshot()).includes('{reason="we\\"ird\\n"} 1'));
});

test("logger: close codes map to levels; consoleLogger drops entries below its level", () => {
  assert.equal(closeLogLevel(1000), "debug");
  assert.equal(closeLogLevel(1001), "debug");
  assert.equal(closeLogLevel(1005), "debug");
  assert.equal(closeLogLevel(1006), "debug");
  assert.equal(closeLogLevel(4000), "warn");
  assert.equal(closeLogLevel(1008), "warn");
  assert.equal(closeLogLevel(1013), "warn");
  assert.equal(closeLogLevel(1011), "error");

  const seen: unknown[][] = [];
  const original = { debug: console.debug, info: console.info, warn: console.warn, error: console.error };
  console.debug = (...args: unknown[]) => void seen.push(["debug", ...args]);
  console.info = (...args: unknown[]) => void seen.push(["info", ...args]);
  console.warn = (...args: unknown[]) => void seen.push(["warn", ...args]);
  console.error = (...args: unknown[]) => void seen.push(["error", ...args]);
  try {
    const log = consoleLogger("warn");
    log.debug("d");
    log.info("i");
    log.warn("w", { id: "1" });
    log.error("e");
    consoleLogger().info("default level is info");
    consoleLogger().debug("not shown");
  } finally {
    Object.assign(console, original);
  }
  assert.deepEqual(seen, [
    ["warn", "[steadysocket] WARN w", { id: "1" }],
    ["error", "[steadysocket] ERROR e"],
    ["info", "[steadysocket] INFO default level is info"],
  ]);
});

test("logger: disconnect levels in practice — normal at debug, policy at warn, fault at error", async () => {
  const logger = new MemoryLogger();
  const ep = createEndpoint({ clock: new ManualClock(), logger, maxMessageBytes: 5 });
  (await openFake(ep)).session.closed(1001, "");
  (await openFake(ep)).session.received('{"type":"too big"}');
  (await openFake(ep)).conn.close(1011, "oops");
  const closed = logger.entries.filter((e) => e.message === "connection closed");
  assert.deepEqual(closed.map((e) => [e.level, e.fields?.code]), [["debug", 1001], ["warn", 1009], [
    "error",
    1011,
  ]]);
});
