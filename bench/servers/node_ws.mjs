// `ws` on Node: the usual broadcast loop over `wss.clients`.
import http from "node:http";
import { WebSocketServer } from "ws";
import { closeCounter, collectGarbage, createControl, isPong } from "./_control.js";

const counter = closeCounter();
const stalled = new WeakSet();
const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://x");
  const body = JSON.stringify(await control(url));
  res.writeHead(200, { "content-type": "application/json" }).end(body);
});
const wss = new WebSocketServer({ server, maxPayload: 1 << 20 });

const control = createControl({
  sendAll(frame) {
    for (const ws of wss.clients) ws.send(frame);
  },
  maxBacklog() {
    let max = 0;
    for (const ws of wss.clients) {
      if (stalled.has(ws)) continue;
      if (ws.bufferedAmount > max) max = ws.bufferedAmount;
    }
    return max;
  },
  stats: () => counter.counts,
  gc: collectGarbage,
});

wss.on("connection", (ws, req) => {
  if (req.url.includes("stall")) stalled.add(ws);
  counter.opened();
  ws.on(
    "message",
    (data) => {
      const text = data.toString();
      if (!isPong(text)) ws.send(JSON.stringify(JSON.parse(text)));
    },
  );
  ws.on("close", (code) => counter.closed(code));
  ws.on("error", () => {});
});
server.listen(
  0,
  process.env.HOST ?? "0.0.0.0",
  () => console.log(`LISTEN ${server.address().port}`),
);
