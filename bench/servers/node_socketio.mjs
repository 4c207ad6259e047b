// Socket.IO 4 on Node, WebSocket transport; fan-out with `io.emit()`.
import http from "node:http";
import { Server } from "socket.io";
import { closeCounter, collectGarbage, createControl } from "./_control.js";

const counter = closeCounter();
const server = http.createServer();
const io = new Server(server, {
  transports: ["websocket"],
  serveClient: false,
  maxHttpBufferSize: 1 << 20,
});
server.prependListener("request", async (req, res) => {
  if (!req.url.startsWith("/ctl/")) return;
  const body = JSON.stringify(await control(new URL(req.url, "http://x")));
  res.writeHead(200, { "content-type": "application/json" }).end(body);
});
let lastBytes = 20;
const control = createControl({
  broadcast(t, pad) {
    lastBytes = pad.length + 20;
    io.emit("f", Number(t.toFixed(3)), pad);
  },
  // The heartbeat round of /ctl/ping: an event every client answers with the same event (the server has no
  // handler for it, so the answer is read and dropped).
  ping() {
    io.emit("hb");
  },
  maxBacklog() {
    let max = 0;
    for (const socket of io.of("/").sockets.values()) {
      if (socket.data.stall) continue;
      const conn = socket.conn;
      const b = conn.writeBuffer.length * lastBytes +
        (conn.transport.socket?.bufferedAmount ?? 0);
      if (b > max) max = b;
    }
    return max;
  },
  stats: () => counter.counts,
  gc: collectGarbage,
});

io.on("connection", (socket) => {
  socket.data.stall = socket.handshake.query.stall !== undefined;
  counter.opened();
  socket.on("echo", (m) => socket.emit("echo", m));
  socket.on("disconnect", (reason) => counter.closed(reason));
});
server.listen(
  0,
  process.env.HOST ?? "0.0.0.0",
  () => console.log(`LISTEN ${server.address().port}`),
);
