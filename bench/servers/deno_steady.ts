// steadysocket on Deno, through `denoHandler`.
import { denoHandler } from "../../server/adapters/deno.ts";
import { steadyEndpoint } from "./_steady.ts";

const { endpoint, control } = steadyEndpoint();
const server = Deno.serve(
  { port: 0, hostname: Deno.env.get("HOST") ?? "0.0.0.0", onListen: () => {} },
  denoHandler(endpoint, {
    fallback: async (req) => Response.json(await control(new URL(req.url))),
  }),
);
console.log(`LISTEN ${server.addr.port}`);
