import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import { startBareEchoServer } from "./bare_server.ts";
import { closePayload, encodeFrame, Opcode, rawConnect } from "./raw_ws.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

test("raw client: frames encode with the right header lengths and masking", () => {
  const key = new Uint8Array([1, 2, 3, 4]);
  const small = encodeFrame({ opcode: Opcode.Text, payload: "hi" }, key);
  assert.deepEqual([...small.subarray(0, 2)], [0x81, 0x82]);
  assert.deepEqual([...small.subarray(6)], [0x68 ^ 1, 0x69 ^ 2]);
  const mid = encodeFrame({ opcode: Opcode.Binary, payload: new Uint8Array(300), mask: false, fin: false });
  assert.deepEqual([...mid.subarray(0, 4)], [0x02, 126, 1, 44]);
  assert.equal(mid.length, 304);
  const big = encodeFrame({ opcode: Opcode.Text, payload: new Uint8Array(70_000), mask: false });
  assert.equal(big[1], 127);
  assert.equal(big.length, 70_010);
  assert.deepEqual([...closePayload(1009, "x")], [0x03, 0xf1, 0x78]);
});

test("raw client: upgrades, echoes fragmented and whole frames, reads the close code", async () => {
  const server = await startBareEchoServer();
  const ws = await rawConnect({ port: server.port });
  try {
    assert.equal(ws.status, 101);
    assert.ok(ws.headers["sec-websocket-accept"], "expected an accept header");
    ws.sendFrame({ opcode: Opcode.Text, payload: "hel", fin: false });
    ws.sendFrame({ opcode: Opcode.Continuation, payload: "lo" });
    assert.equal(text((await ws.next()).payload), "hello");
    ws.sendFrame({ opcode: Opcode.Text, payload: "close:4321" });
    const closed = await ws.closed(5_000);
    assert.deepEqual(closed, { code: 4321, reason: "asked to", closeFrame: true });
  } finally {
    ws.destroy();
    await server.close();
  }
});

test("raw client: reports a refused upgrade's status and body", async () => {
  const server = await startBareEchoServer();
  const ws = await rawConnect({
    port: server.port,
    rawRequest: "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  });
  try {
    assert.ok(ws.status >= 400 && ws.status < 600, `expected a refusal, got ${ws.status}`);
  } finally {
    ws.destroy();
    await server.close();
  }
});
