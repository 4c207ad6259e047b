/**
 * A bare echo WebSocket server on the runtime's own API (no steadysocket), to
 * test the test tools themselves and to compare the runtimes' raw behaviour.
 *
 * @example
 * ```ts
 * const server = await startBareEchoServer();
 * const ws = new WebSocket(server.url);
 * await server.close();
 * ```
 *
 * @module
 */

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/** A running bare server. */
export interface BareServer {
  port: number;
  url: string;
  /** Close codes the server saw, in order. */
  closes: number[];
  close(): Promise<void>;
}

/** Starts an echo server on 127.0.0.1 with an ephemeral port; the text `close:<code>` makes it close with that code. */
export function startBareEchoServer(): Promise<BareServer> {
  const closes: number[] = [];
  if (g.Deno) {
    const sockets = new Set<WebSocket>();
    const server = g.Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req: Request) => {
      let upgraded;
      try {
        upgraded = g.Deno.upgradeWebSocket(req, { idleTimeout: 0 });
      } catch {
        return new Response("upgrade expected", { status: 400 });
      }
      const { socket, response } = upgraded;
      sockets.add(socket);
      socket.onmessage = (e: MessageEvent) => {
        const m = typeof e.data === "string" ? /^close:(\d+)$/.exec(e.data) : null;
        if (m) socket.close(Number(m[1]), "asked to");
        else socket.send(e.data);
      };
      socket.onerror = () => {};
      socket.onclose = (e: CloseEvent) => {
        sockets.delete(socket);
        closes.push(e.code);
      };
      return response;
    });
    const port = server.addr.port;
    return Promise.resolve({
      port,
      url: `ws://127.0.0.1:${port}/ws`,
      closes,
      async close() {
        for (const s of sockets) s.close();
        await server.shutdown();
      },
    });
  }
  const server = g.Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req: Request, srv: { upgrade(r: Request): boolean }) {
      return srv.upgrade(req) ? undefined : new Response("upgrade expected", { status: 426 });
    },
    websocket: {
      message(ws: { send(d: unknown): number; close(c: number, r: string): void }, data: unknown) {
        const m = typeof data === "string" ? /^close:(\d+)$/.exec(data) : null;
        if (m) ws.close(Number(m[1]), "asked to");
        else ws.send(data);
      },
      close(_ws: unknown, code: number) {
        closes.push(code);
      },
    },
  });
  return Promise.resolve({
    port: server.port,
    url: `ws://127.0.0.1:${server.port}/ws`,
    closes,
    async close() {
      await server.stop(true);
    },
  });
}
