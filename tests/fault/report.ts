/**
 * The result table every reliability suite prints: one row per scenario with
 * the runtime, adapter, connection count, faults injected, leaks, messages
 * lost and unhandled errors. With `STEADY_REPORT=<file>` set, rows are also
 * appended to that file as JSON lines, so a soak's figures can be collected.
 *
 * @example
 * ```ts
 * const table = new ReportTable("chaos");
 * table.add({ scenario: "random faults", adapter: "deno", connections: 200, faults: 57, leaks: 0, lost: 0, unhandled: 0 });
 * table.print();
 * ```
 *
 * @module
 */

import process from "node:process";
import { appendFileSync } from "node:fs";
import { runtime } from "../_harness.ts";

/** One scenario's outcome. */
export interface ReportRow {
  scenario: string;
  /** Defaults to the runtime running the suite. */
  runtime?: string;
  adapter: string;
  connections: number;
  /** Faults injected (resets, cuts, black holes, bad frames...). */
  faults: number;
  /** Connections or reservations left registered afterwards. */
  leaks: number;
  /** Accepted messages lost without being reported. */
  lost: number;
  /** Unhandled rejections or uncaught errors seen during the scenario. */
  unhandled: number;
  /** Free text: memory, timings, seeds. */
  notes?: string;
}

const COLUMNS = [
  "scenario",
  "runtime",
  "adapter",
  "connections",
  "faults",
  "leaks",
  "lost",
  "unhandled",
  "notes",
] as const;

/** Collects rows and prints them as a fixed-width table. */
export class ReportTable {
  readonly rows: ReportRow[] = [];
  constructor(readonly title: string) {}

  /** Adds a row (and appends it to `$STEADY_REPORT` when set). */
  add(row: ReportRow): void {
    const full = { ...row, runtime: row.runtime ?? runtime };
    this.rows.push(full);
    const file = process.env.STEADY_REPORT;
    if (file) {
      try {
        appendFileSync(
          file,
          JSON.stringify({ suite: this.title, at: new Date().toISOString(), ...full }) + "\n",
        );
      } catch { /* reporting must never fail a test */ }
    }
  }

  /** Renders the table as text. */
  render(): string {
    const cells = this.rows.map((r) =>
      COLUMNS.map((c) => String((r as unknown as Record<string, unknown>)[c] ?? ""))
    );
    const widths = COLUMNS.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
    const line = (vals: readonly string[]) =>
      "| " + vals.map((v, i) => v.padEnd(widths[i])).join(" | ") + " |";
    return [
      `\n${this.title}`,
      line(COLUMNS),
      "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|",
      ...cells.map(line),
    ].join("\n");
  }

  /** Prints the table to stdout. */
  print(): void {
    console.log(this.render());
  }
}

/** Resident set size in MiB, rounded to one decimal. */
export function rssMiB(): number {
  return Math.round((process.memoryUsage().rss / 1048576) * 10) / 10;
}

/** Heap used in MiB, rounded to one decimal. */
export function heapMiB(): number {
  return Math.round((process.memoryUsage().heapUsed / 1048576) * 10) / 10;
}

/** Runs a full garbage collection where the runtime allows it (Bun always; Deno with `--v8-flags=--expose-gc`); returns whether it did. */
export function collectGarbage(): boolean {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  if (g.Bun?.gc) {
    g.Bun.gc(true);
    return true;
  }
  if (typeof g.gc === "function") {
    g.gc();
    return true;
  }
  return false;
}
