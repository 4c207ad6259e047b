import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import { createEndpoint } from "../../server/mod.ts";
import type { CloseInfo } from "../../server/types.ts";
import { ManualClock, MemoryLogger, openFake } from "./_fake_socket.ts";

function endpoint(maxBufferedBytes?: number) {
  const closes: { id: string; info: CloseInfo }[] = [];
  const ep = createEndpoint({
    clock: new ManualClock(),
    logger: new MemoryLogger(),
    maxBufferedBytes,
    close: (conn, info) => void closes.push({ id: conn.id, info }),
  });
  return { ep, closes };
}

test("hub: add on open, remove on close, connections() is a snapshot", async () => {
  const { ep } = endpoint();
  const a = await openFake(ep);
  const b = await openFake(ep);
  assert.equal(ep.hub.size, 2);
  const snapshot = ep.hub.connections();
  a.session.closed(1000, "");
  assert.equal(ep.hub.size, 1);
  assert.equal(snapshot.length, 2, "a snapshot does not change under the caller");
  assert.deepEqual(ep.hub.connections(), [b.conn]);
});

test("hub: rooms join, leave, members, and cleanup leaves every room", async () => {
  const { ep } = endpoint();
  const a = await openFake(ep);
  const b = await openFake(ep);
  a.conn.join("x");
  a.conn.join("y");
  a.conn.join("x");
  b.conn.join("x");
  assert.deepEqual(ep.hub.rooms().sort(), ["x", "y"]);
  assert.deepEqual(ep.hub.members("x"), [a.conn, b.conn]);
  assert.deepEqual([...a.conn.rooms].sort(), ["x", "y"]);
  b.conn.leave("x");
  b.conn.leave("x");
  assert.deepEqual(ep.hub.members("x"), [a.conn]);
  a.session.closed(1001, "");
  assert.deepEqual(ep.hub.rooms(), [], "empty rooms disappear");
  assert.deepEqual(ep.hub.members("x"), []);
  assert.equal(a.conn.rooms.size, 0);
  a.conn.join("z");
  assert.deepEqual(ep.hub.rooms(), [], "a closed connection cannot join");
});

test("broadcast: one dead peer in the snapshot; the others receive, the dead one is evicted after the loop", async () => {
  const { ep, closes } = endpoint();
  const peers = [await openFake(ep), await openFake(ep), await openFake(ep), await openFake(ep)];
  // Peer 1 vanished: its socket closed, its close event has not arrived yet.
  peers[1].socket.readyState = 3;
  // Peer 2's socket throws on send.
  peers[2].socket.sendThrows = new Error("broken pipe");
  const result = ep.hub.broadcast("news");
  assert.deepEqual(result, { delivered: 2, dropped: 2 });
  assert.deepEqual(peers[0].socket.sent, ["news"]);
  assert.deepEqual(peers[3].socket.sent, ["news"]);
  assert.equal(ep.hub.size, 2);
  assert.deepEqual(
    closes.map((c) => [c.id, c.info.code, c.info.initiator]),
    [[peers[1].conn.id, 1006, "peer"], [peers[2].conn.id, 1011, "server"]],
  );
  // The dead peer's close event arrives late: ignored.
  peers[1].session.closed(1006, "");
  assert.equal(closes.length, 2);
  assert.equal(ep.stats().closed, 2);
});

test("broadcast: except one connection or a list, room only, JSON", async () => {
  const { ep } = endpoint();
  const [a, b, c] = [await openFake(ep), await openFake(ep), await openFake(ep)];
  a.conn.join("r");
  b.conn.join("r");
  assert.deepEqual(ep.hub.broadcast("1", { except: a.conn }), { delivered: 2, dropped: 0 });
  assert.deepEqual(ep.hub.broadcast("2", { except: [a.conn, b.conn] }), { delivered: 1, dropped: 0 });
  assert.deepEqual(ep.hub.broadcast("3", { room: "r" }), { delivered: 2, dropped: 0 });
  assert.deepEqual(ep.hub.broadcast("4", { room: "nobody" }), { delivered: 0, dropped: 0 });
  assert.deepEqual(ep.hub.broadcastJson({ type: "t", payload: 'q"' }, { room: "r", except: b.conn }), {
    delivered: 1,
    dropped: 0,
  });
  assert.deepEqual(a.socket.sent, ["3", '{"type":"t","payload":"q\\""}']);
  assert.deepEqual(b.socket.sent, ["1", "3"]);
  assert.deepEqual(c.socket.sent, ["1", "2"]);
});

test("broadcast: a slow consumer is skipped and closed with 1013, memory stays bounded", async () => {
  const { ep, closes } = endpoint(100);
  const fast = await openFake(ep);
  const slow = await openFake(ep);
  slow.socket.bufferedAmount = 101;
  const result = ep.hub.broadcast("x".repeat(50));
  assert.deepEqual(result, { delivered: 1, dropped: 1 });
  assert.equal(slow.socket.sent.length, 0);
  assert.equal(slow.socket.closes[0].code, 1013);
  assert.equal(closes[0].info.code, 1013);
  assert.equal(ep.stats().slowConsumers, 1);
  assert.equal(fast.socket.sent.length, 1);
  assert.equal(ep.hub.size, 1);
});

test("broadcast: a membership change during fan-out does not disturb the loop", async () => {
  const { ep } = endpoint();
  const peers = [await openFake(ep), await openFake(ep), await openFake(ep)];
  // Peer 0's socket closes peer 2 from inside its send (as a reentrant runtime callback could).
  const original = peers[0].socket.send.bind(peers[0].socket);
  peers[0].socket.send = (data) => {
    peers[2].session.closed(1000, "");
    return original(data);
  };
  const result = ep.hub.broadcast("m");
  assert.deepEqual(result, { delivered: 2, dropped: 1 });
  assert.equal(ep.hub.size, 2);
});

test("hub snapshot cache: broadcasts after joins and leaves see the current membership", async () => {
  const { ep } = endpoint();
  const a = await openFake(ep);
  assert.equal(ep.hub.broadcast("1").delivered, 1);
  const b = await openFake(ep);
  assert.equal(ep.hub.broadcast("2").delivered, 2);
  b.conn.join("r");
  assert.equal(ep.hub.broadcast("3", { room: "r" }).delivered, 1);
  a.conn.join("r");
  assert.equal(ep.hub.broadcast("4", { room: "r" }).delivered, 2);
  b.conn.close();
  assert.equal(ep.hub.broadcast("5", { room: "r" }).delivered, 1);
  assert.equal(ep.hub.broadcast("6").delivered, 1);
});
