/**
 * The demo's chat with presence, as endpoint handlers.
 *
 * Client → server:
 * - `{"type":"chat","payload":{"text": string}}`: says something to everyone.
 * - `{"type":"roster"}`: asks for the list of who is online.
 * - `{"type":"close-me","payload":{"code"?: number,"reason"?: string}}`: asks the
 *   server to close this connection with `code` (1000, 1008, 1011 or 1013; default 1011).
 *
 * Server → client:
 * - `welcome` `{id, name}` once per connection: who you are.
 * - `roster` `{online: [{id, name}]}` on connect and on request.
 * - `join` / `leave` `{id, name}` when someone else comes or goes.
 * - `chat` `{from, fromId, text}` to every client, the sender too.
 * - `error` `{message, code}` for a message that was rejected; the connection goes on.
 *
 * @module
 */

import { ClientError } from "../../server/mod.ts";
import type { Connection, EndpointOptions, Hub } from "../../server/types.ts";

/** What the demo knows about a connected user. */
export interface ChatUser {
  /** A display name: from `?name=` on the WebSocket URL, or a generated `guest-xxxx`. */
  name: string;
}

/** One entry of the roster. */
export interface Member {
  id: string;
  name: string;
}

/** The close codes a client may ask for with `close-me`. */
export const CLOSE_ON_REQUEST: readonly number[] = [1000, 1008, 1011, 1013];

/** Longest chat message, in characters. */
export const MAX_TEXT = 2000;

const MAX_NAME = 24;

/**
 * Picks the user's name from the upgrade request's `?name=` parameter,
 * trimmed and cut to 24 characters; without one, a random `guest-xxxx`.
 *
 * @example
 * ```ts
 * userFromRequest(new Request("http://localhost/ws?name=ada")); // { name: "ada" }
 * ```
 */
export function userFromRequest(request: Request): ChatUser {
  // Control characters would let a name forge extra lines in the page's log.
  // deno-lint-ignore no-control-regex
  const given = (new URL(request.url).searchParams.get("name") ?? "").replace(/[\x00-\x1f\x7f]/g, "").trim();
  if (given) return { name: given.slice(0, MAX_NAME) };
  const bytes = crypto.getRandomValues(new Uint8Array(2));
  return { name: `guest-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}` };
}

/**
 * The chat's endpoint handlers. `hub` is read lazily because the endpoint,
 * which owns it, is created from these very handlers.
 *
 * @example
 * ```ts
 * let endpoint: Endpoint<ChatUser>;
 * endpoint = createEndpoint({ ...chatHandlers(() => endpoint.hub), authenticate: userFromRequest });
 * ```
 */
export function chatHandlers(
  hub: () => Hub<ChatUser>,
): Pick<EndpointOptions<ChatUser>, "open" | "message" | "close"> {
  const member = (conn: Connection<ChatUser>): Member => ({ id: conn.id, name: conn.data.name });
  const roster = () => ({ type: "roster", payload: { online: hub().connections().map(member) } });

  return {
    open(conn) {
      conn.sendJson({ type: "welcome", payload: member(conn) });
      conn.sendJson(roster());
      hub().broadcastJson({ type: "join", payload: member(conn) }, { except: conn });
    },
    message(conn, message) {
      const payload = (message.payload ?? {}) as Record<string, unknown>;
      switch (message.type) {
        case "chat": {
          const text = typeof payload === "object" ? payload.text : undefined;
          if (typeof text !== "string" || text.trim() === "") {
            throw new ClientError(
              `expected payload.text to be a non-empty string, got ${describe(text)}`,
              "invalid_chat",
            );
          }
          if (text.length > MAX_TEXT) {
            throw new ClientError(
              `expected payload.text to be at most ${MAX_TEXT} characters, got ${text.length}`,
              "invalid_chat",
            );
          }
          hub().broadcastJson({ type: "chat", payload: { from: conn.data.name, fromId: conn.id, text } });
          return;
        }
        case "roster":
          conn.sendJson(roster());
          return;
        case "close-me": {
          const code = payload.code ?? 1011;
          if (typeof code !== "number" || !CLOSE_ON_REQUEST.includes(code)) {
            throw new ClientError(
              `expected payload.code to be one of ${CLOSE_ON_REQUEST.join(", ")}, got ${describe(code)}`,
              "invalid_close_code",
            );
          }
          const reason = typeof payload.reason === "string"
            ? payload.reason.slice(0, 100)
            : "closed on request";
          conn.close(code, reason);
          return;
        }
        default:
          throw new ClientError(
            `expected a message of type chat, roster or close-me, got "${message.type}"`,
            "unknown_type",
          );
      }
    },
    close(conn) {
      hub().broadcastJson({ type: "leave", payload: member(conn) });
    },
  };
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (typeof value === "string") return value === "" || value.trim() === "" ? "a blank string" : "a string";
  if (typeof value === "number") return String(value);
  return Array.isArray(value) ? "an array" : `a ${typeof value}`;
}
