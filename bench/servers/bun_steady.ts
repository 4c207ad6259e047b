// steadysocket on Bun, through `bunHandlers`; FANOUT=loop turns Bun's native
// fan-out off (no topic subscription per socket: less memory, slower fan-out).
import { bunHandlers } from "../../server/adapters/bun.ts";
import { steadyEndpoint } from "./_steady.ts";

// deno-lint-ignore no-explicit-any
const Bun = (globalThis as any).Bun;

const { endpoint, control } = steadyEndpoint();
const server = Bun.serve({
  port: 0,
  hostname: process.env.HOST ?? "0.0.0.0",
  ...bunHandlers(endpoint, {
    fallback: async (req) => Response.json(await control(new URL(req.url))),
    fanout: process.env.FANOUT === "loop" ? "loop" : "native",
  }),
});
console.log(`LISTEN ${server.port}`);
