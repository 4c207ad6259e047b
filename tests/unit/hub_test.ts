import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import { createEndpoint } from "../../server/mod.ts";
import type { CloseInfo } from "../../server/types.ts";
import type { ConnectionHub } from "../../server/hub.ts";
import type { ServerConnection } from "../../server/connection.ts";
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

test("hub: membership follows a model through 3 000 random joins, leaves, closes and opens", async () => {
  const { ep } = endpoint();
  // A seeded generator, so that a failure can be replayed.
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const rooms = ["a", "b", "c", "d"];
  type Open = Awaited<ReturnType<typeof openFake>>;
  const open: Open[] = [];
  const model = new Map<Open, Set<string>>();
  for (let i = 0; i < 30; i++) {
    const o = await openFake(ep);
    open.push(o);
    model.set(o, new Set());
  }
  for (let step = 0; step < 3000; step++) {
    const op = random(10);
    if (op < 4 && open.length > 0) {
      const o = open[random(open.length)];
      const room = rooms[random(rooms.length)];
      o.conn.join(room);
      model.get(o)!.add(room);
    } else if (op < 7 && open.length > 0) {
      const o = open[random(open.length)];
      const room = rooms[random(rooms.length)];
      o.conn.leave(room);
      model.get(o)!.delete(room);
    } else if (op < 8 && open.length > 0) {
      const o = open.splice(random(open.length), 1)[0];
      o.session.closed(1000, "");
      model.delete(o);
    } else {
      const o = await openFake(ep);
      open.push(o);
      model.set(o, new Set());
    }
    assert.equal(ep.hub.size, open.length, `size after step ${step}`);
    for (const room of rooms) {
      const want = open.filter((o) => model.get(o)!.has(room)).map((o) => o.conn.id).sort();
      const got = ep.hub.members(room).map((c) => c.id).sort();
      assert.deepEqual(got, want, `members of ${room} after step ${step}`);
    }
  }
  for (const o of open) assert.deepEqual([...o.conn.rooms].sort(), [...model.get(o)!].sort());
  assert.deepEqual(
    ep.hub.rooms().sort(),
    rooms.filter((r) => open.some((o) => model.get(o)!.has(r))),
    "only non-empty rooms are listed",
  );
  // A broadcast reaches exactly the model's members.
  const before = new Map(open.map((o) => [o, o.socket.sent.length]));
  const { delivered } = ep.hub.broadcast("hi", { room: "a" });
  const reached = open.filter((o) => o.socket.sent.length > before.get(o)!);
  assert.deepEqual(reached, open.filter((o) => model.get(o)!.has("a")));
  assert.equal(delivered, reached.length);
});

test("hub: a list held by a loop does not change when the loop's work closes members", async () => {
  const { ep } = endpoint();
  const all = [];
  for (let i = 0; i < 5; i++) all.push(await openFake(ep));
  for (const o of all) o.conn.join("r");
  // The list the heartbeat and shutdown iterate while they close connections.
  const hub = ep.hub as ConnectionHub<unknown>;
  const held = hub.list();
  const seen: string[] = [];
  for (const conn of held) {
    seen.push(conn.id);
    // Closing the first member would move the last one into its place in a live list.
    if (seen.length === 1) all[0].session.closed(1000, "");
  }
  assert.equal(seen.length, 5, "every member of the held list was visited once");
  assert.equal(new Set(seen).size, 5);
  assert.equal(ep.hub.size, 4);
  assert.equal(ep.hub.members("r").length, 4);
  assert.ok(!hub.list().includes(all[0].conn as ServerConnection<unknown>));
});
