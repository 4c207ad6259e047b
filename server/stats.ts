/**
 * The counters of one endpoint, readable as a plain object or as Prometheus
 * text. Counting is a field increment; the text is only built on demand.
 *
 * @module
 */

import type { EndpointStats } from "./types.ts";

/**
 * Mutable counters behind {@linkcode EndpointStats}. The lifecycle increments
 * the public fields directly (no method call on the hot path).
 *
 * @example
 * ```ts
 * import { StatsCounter } from "./stats.ts";
 *
 * const stats = new StatsCounter();
 * stats.messagesIn++;
 * stats.countClose(1000);
 * console.log(stats.snapshot().closedByCode); // { "1000": 1 }
 * console.log(stats.metrics().includes("steadysocket_messages_in_total 1")); // true
 * ```
 */
export class StatsCounter {
  /** Open connections now. */
  open = 0;
  /** Connections opened since start. */
  opened = 0;
  /** Connections closed since start. */
  closed = 0;
  /** Socket errors reported by the runtime. */
  errors = 0;
  /** Handler failures (throws or rejections other than `ClientError`). */
  handlerErrors = 0;
  /** Frames received. */
  messagesIn = 0;
  /** Frames handed to a socket. */
  messagesOut = 0;
  /** Inbound size: bytes of binary frames plus UTF-16 length of text frames (bytes for ASCII). */
  bytesIn = 0;
  /** Sends not handed to a socket (closed, slow or failing peer). */
  sendsDropped = 0;
  /** Heartbeat pings sent. */
  pingsSent = 0;
  /** Connections closed by the heartbeat. */
  heartbeatTimeouts = 0;
  /** Connections closed as slow consumers. */
  slowConsumers = 0;
  #closedByCode = new Map<number, number>();
  #refused = new Map<string, number>();

  /** Counts one closed connection under its close code. */
  countClose(code: number): void {
    this.closed++;
    this.#closedByCode.set(code, (this.#closedByCode.get(code) ?? 0) + 1);
  }

  /** Counts one refused upgrade under its reason. */
  countRefusal(reason: string): void {
    this.#refused.set(reason, (this.#refused.get(reason) ?? 0) + 1);
  }

  /** A copy of every counter. */
  snapshot(): EndpointStats {
    return {
      open: this.open,
      opened: this.opened,
      closed: this.closed,
      closedByCode: Object.fromEntries([...this.#closedByCode].map(([k, v]) => [String(k), v])),
      errors: this.errors,
      handlerErrors: this.handlerErrors,
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      bytesIn: this.bytesIn,
      sendsDropped: this.sendsDropped,
      pingsSent: this.pingsSent,
      heartbeatTimeouts: this.heartbeatTimeouts,
      slowConsumers: this.slowConsumers,
      upgradesRefused: Object.fromEntries(this.#refused),
    };
  }

  /** The counters in Prometheus text exposition format (version 0.0.4). */
  metrics(): string {
    return prometheusText(this.snapshot());
  }
}

/**
 * Renders {@linkcode EndpointStats} in the Prometheus text exposition format,
 * with `# HELP` and `# TYPE` lines and escaped label values.
 *
 * @example
 * ```ts
 * import { prometheusText, StatsCounter } from "./stats.ts";
 * const text = prometheusText(new StatsCounter().snapshot());
 * text.includes("# TYPE steadysocket_connections_open gauge"); // true
 * ```
 */
export function prometheusText(s: EndpointStats): string {
  const out: string[] = [];
  const metric = (name: string, type: "gauge" | "counter", help: string, value: number) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
  };
  const labelled = (name: string, help: string, label: string, values: Record<string, number>) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
    for (const key of Object.keys(values).sort()) {
      out.push(`${name}{${label}="${escapeLabel(key)}"} ${values[key]}`);
    }
  };
  metric("steadysocket_connections_open", "gauge", "Open WebSocket connections.", s.open);
  metric("steadysocket_connections_opened_total", "counter", "Connections opened.", s.opened);
  labelled(
    "steadysocket_connections_closed_total",
    "Connections closed, by close code.",
    "code",
    s.closedByCode,
  );
  metric("steadysocket_messages_in_total", "counter", "Frames received.", s.messagesIn);
  metric("steadysocket_messages_out_total", "counter", "Frames handed to a socket.", s.messagesOut);
  metric("steadysocket_bytes_in_total", "counter", "Inbound text length and binary bytes.", s.bytesIn);
  metric("steadysocket_sends_dropped_total", "counter", "Sends not handed to a socket.", s.sendsDropped);
  metric("steadysocket_pings_sent_total", "counter", "Heartbeat pings sent.", s.pingsSent);
  metric(
    "steadysocket_heartbeat_timeouts_total",
    "counter",
    "Connections closed by the heartbeat.",
    s.heartbeatTimeouts,
  );
  metric(
    "steadysocket_slow_consumers_total",
    "counter",
    "Connections closed as slow consumers.",
    s.slowConsumers,
  );
  labelled(
    "steadysocket_upgrades_refused_total",
    "Upgrade requests refused, by reason.",
    "reason",
    s.upgradesRefused,
  );
  metric("steadysocket_socket_errors_total", "counter", "Socket errors reported by the runtime.", s.errors);
  metric("steadysocket_handler_errors_total", "counter", "Handler failures.", s.handlerErrors);
  return out.join("\n") + "\n";
}

/**
 * Escapes a Prometheus label value: backslash, double quote and newline.
 *
 * @example
 * ```ts
 * import { escapeLabel } from "./stats.ts";
 * escapeLabel('a"b'); // 'a\\"b'
 * ```
 */
export function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : "\\" + c));
}
