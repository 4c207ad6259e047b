// The demo's environment settings and origin policy (the browser test covers the rest of the demo).
import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import { originPolicy, readConfig } from "../../examples/demo/config.ts";

test("demo config: defaults without any variable", () => {
  const config = readConfig({});
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.port, 8000);
  assert.equal(config.pingAfterMs, undefined);
  assert.equal(config.pingTimeoutMs, undefined);
  assert.equal(config.maxMessageBytes, undefined);
  assert.deepEqual(config.allowedOrigins, []);
  assert.equal(config.logLevel, "info");
});

test("demo config: reads every variable", () => {
  const config = readConfig({
    HOST: "0.0.0.0",
    PORT: "0",
    STEADY_PING_AFTER_MS: "1000",
    STEADY_PING_TIMEOUT_MS: "500",
    STEADY_MAX_MESSAGE_BYTES: "4096",
    STEADY_ALLOWED_ORIGINS: " https://a.example , https://b.example/ ,",
    STEADY_SHUTDOWN_MS: "250",
    STEADY_LOG_LEVEL: "debug",
  });
  assert.equal(config.host, "0.0.0.0");
  assert.equal(config.port, 0);
  assert.equal(config.pingAfterMs, 1000);
  assert.equal(config.pingTimeoutMs, 500);
  assert.equal(config.maxMessageBytes, 4096);
  assert.deepEqual(config.allowedOrigins, ["https://a.example", "https://b.example/"]);
  assert.equal(config.shutdownMs, 250);
  assert.equal(config.logLevel, "debug");
});

test("demo config: a bad value names the variable and what it held", () => {
  assert.throws(() => readConfig({ PORT: "80a" }), /PORT: expected an integer from 0 to 65535, got "80a"/);
  assert.throws(() => readConfig({ STEADY_PING_AFTER_MS: "0" }), /STEADY_PING_AFTER_MS/);
  assert.throws(() => readConfig({ STEADY_LOG_LEVEL: "loud" }), /STEADY_LOG_LEVEL: .* got "loud"/);
});

test("demo config: the origin policy allows the page's own origin and the listed ones", () => {
  assert.equal(originPolicy([]), "same-origin");
  assert.equal(originPolicy(["https://a.example", "*"]), "any");
  const policy = originPolicy(["https://a.example/"]);
  assert.equal(typeof policy, "function");
  const allow = policy as (origin: string | null, request: Request) => boolean;
  const request = new Request("http://127.0.0.1:8000/ws");
  assert.equal(allow("https://a.example", request), true);
  assert.equal(allow("http://127.0.0.1:8000", request), true);
  assert.equal(allow(null, request), true);
  assert.equal(allow("https://evil.example", request), false);
});
