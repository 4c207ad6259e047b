// Renders a run's results as bench/RESULTS.md.
import { bootstrapInterval, fmt, fx, median, ratio } from "./_stats.ts";
import { OURS, RAW, referenceOf, TARGETS } from "./_targets.ts";
import { farField, refField } from "./_bracket.ts";
import { decodeHistogram, merged, quantileOf, type TailHistogram } from "./_tail_histogram.ts";

// deno-lint-ignore no-explicit-any
type Any = any;
type Med = Record<string, Record<string, number>>;

function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join(
    "\n",
  );
}

function baselineOf(id: string): string | undefined {
  const rt = TARGETS[id]?.runtime;
  return rt === "bun" || rt === "deno" ? RAW[rt] : undefined;
}

interface Check {
  what: string;
  goal: string;
  value: number;
  shown: string;
  pass: boolean | undefined;
  where?: string;
  /** The same comparison by server CPU per message (noise-robust), where it applies. */
  alt?: string;
  /** The 90 % bootstrap interval of the worst case's value, where it is a ratio over repetitions. */
  interval?: [number, number];
}

/** Worst "b's CPU per message ÷ a's" over configs: ≥ 1 means a costs no more than b. */
function costAlt(
  list: Any[] | undefined,
  name: (c: Any) => string,
  a: string,
  b: string,
): string {
  const [where, v] = worst(pairs(list, name, b, a, "cpuUsPerMsg"), true);
  return Number.isFinite(v) ? `${v.toFixed(2)}× (${where})` : "";
}

/**
 * A named value of a check, with its 90 % interval where the value is a
 * ratio over repetitions (computed only for the entry a check reports).
 */
type Entry = [name: string, value: number, interval?: () => [number, number]];

/** The worst (lowest or highest) of several named values. */
function worst(entries: Entry[], low = true): Entry {
  const ok = entries.filter(([, v]) => Number.isFinite(v));
  if (ok.length === 0) return ["", NaN];
  return ok.reduce((
    a,
    b,
  ) => (low ? (b[1] < a[1] ? b : a) : (b[1] > a[1] ? b : a)));
}

function atLeast(
  what: string,
  goal: number,
  entries: Entry[],
  suffix = "×",
): Check {
  const [where, value, interval] = worst(entries, true);
  return {
    what,
    goal: `≥ ${goal}${suffix}`,
    value,
    shown: Number.isFinite(value) ? value.toFixed(2) + suffix : "not measured",
    pass: Number.isFinite(value) ? value >= goal : undefined,
    where,
    interval: interval?.(),
  };
}

function atMost(
  what: string,
  goal: number,
  entries: Entry[],
  unit: string,
  digits = 2,
): Check {
  const [where, value, interval] = worst(entries, false);
  return {
    what,
    goal: unit === "×" ? `≤ ${goal.toFixed(2)}×` : `≤ ${goal} ${unit}`.trim(),
    value,
    shown: Number.isFinite(value)
      ? (unit === "×" ? `${value.toFixed(digits)}×` : `${value.toFixed(digits)} ${unit}`.trim())
      : "not measured",
    pass: Number.isFinite(value) ? value <= goal : undefined,
    where,
    interval: interval?.(),
  };
}

const label = (id: string) => TARGETS[id]?.label ?? id;
const fanName = (f: Any) => `${f.clients}×${f.bytes} B`;

/**
 * How far each server's paced broadcasts fell behind their schedule (its event loop's delay, seen by the
 * server itself), or "" for a run that did not record it: a delivery's latency is counted from its send time,
 * so a window whose p99 is high while its server kept to its schedule was delayed after the send.
 */
function scheduleNote(f: Any): string {
  const parts: string[] = [];
  for (const [id, windows] of Object.entries((f.tails ?? {}) as Record<string, { lateMs?: number }[]>)) {
    const late = windows.map((w) => w.lateMs ?? NaN).filter(Number.isFinite);
    if (late.length === 0) continue;
    parts.push(`${label(id)} ${median(late).toFixed(2)} (at most ${Math.max(...late).toFixed(2)})`);
  }
  return parts.length
    ? "The latest a paced broadcast fell behind its server's schedule, in ms, median over the windows: " +
      `${parts.join(", ")}.`
    : "";
}

/** A server below this share of its core, while the load generator's core is above it, waited for the client. */
const BOUND_SHARE = 0.9;

/** The targets of a scenario whose windows were bound by the load generator rather than by their server. */
function clientBound(c: Any, ids: string[]): string[] {
  return ids.filter((id) => {
    const m = c?.med?.[id];
    return m !== undefined && m.cpu < BOUND_SHARE && m.clientCpu >= BOUND_SHARE;
  });
}

/**
 * "bound by the load generator there (...)" for the targets of a check's worst case that waited for the
 * client, or "": their rate is what one client core could read, so the comparison by server CPU per message
 * is the one that tells the servers apart there.
 */
function clientBoundNote(list: Any[] | undefined, name: (c: Any) => string, where: string, ids: string[]) {
  const c = list?.find((x) => name(x) === where);
  const bound = clientBound(c, ids);
  if (bound.length === 0) return "";
  const cpu = (key: string) => bound.map((id) => c.med[id][key].toFixed(2)).join(" and ");
  const client = cpu("clientCpu");
  return `${bound.map(label).join(" and ")} bound by the load generator there (server CPU ${cpu("cpu")}, ` +
    `the client's core ${client}): the rate is what one client core read, CPU per message compares the servers ` +
    "(where the client's time goes: bench/client_ceiling.ts)";
}

/**
 * a ÷ b for one scenario config: the median of the per-repetition ratios (a
 * and b measured seconds apart in the same repetition), which cancels slow
 * drifts of the machine better than a ratio of medians; the ratio of medians
 * where repetitions cannot be paired.
 */
function rel(c: Any, a: string, b: string, key: string): number {
  const paired = pairedRatios(c, a, b, key);
  return paired ? median(paired) : ratio(c?.med?.[a]?.[key], c?.med?.[b]?.[key]);
}

/**
 * a ÷ b per repetition, or `undefined` where the repetitions cannot be paired.
 * Where one of the two is the other's reference and the run bracketed it
 * (bench/_bracket.ts), the reference's side is the mean of its two windows
 * around the other.
 */
function pairedRatios(c: Any, a: string, b: string, key: string): number[] | undefined {
  const sa = c?.samples?.[a] as Any[] | undefined;
  const sb = c?.samples?.[b] as Any[] | undefined;
  if (!sa || !sb || sa.length !== sb.length || sa.length === 0) return undefined;
  const ref = refField(key);
  return sa.map((x, i) => {
    if (referenceOf(b) === a && Number.isFinite(sb[i][ref])) return ratio(sb[i][ref], sb[i][key]);
    if (referenceOf(a) === b && Number.isFinite(x[ref])) return ratio(x[key], x[ref]);
    return ratio(x[key], sb[i][key]);
  });
}

/**
 * The per-repetition ratios a ÷ b where one of them is the other's reference
 * and every repetition bracketed the other with two windows of it (the
 * reference's side is the mean of those two); `undefined` otherwise.
 */
function bracketedRatios(c: Any, a: string, b: string, key: string): number[] | undefined {
  const ref = refField(key);
  const target = referenceOf(b) === a ? b : referenceOf(a) === b ? a : undefined;
  const list = target === undefined ? undefined : c?.samples?.[target] as Any[] | undefined;
  if (!list?.length || !list.every((x) => Number.isFinite(x[ref]))) return undefined;
  return pairedRatios(c, a, b, key);
}

/**
 * a ÷ b for a latency percentile. Where every repetition measured one
 * between two windows of the other (ours around each raw baseline in a
 * bracketed run), the median of those per-repetition ratios, as for
 * throughput; otherwise the ratio of the medians, since windows seconds or
 * tens of seconds apart share little of the machine's state and pairing
 * them would only multiply two noises.
 */
function relTail(c: Any, a: string, b: string, key: string): number {
  if (hasPooled(c, a, b, key)) return ratio(pooledTail(c, a, key), pooledTail(c, b, key));
  return perRepTail(c, a, b, key);
}

/** {@linkcode relTail} as the runs before pooled histograms read it: from each window's own percentile. */
function perRepTail(c: Any, a: string, b: string, key: string): number {
  const bracketed = bracketedRatios(c, a, b, key);
  return bracketed ? median(bracketed) : ratio(c?.med?.[a]?.[key], c?.med?.[b]?.[key]);
}

/** The quantile a latency field names (`p99`: 0.99), NaN for any other field. */
function quantileFor(key: string): number {
  const m = /^p(\d+)$/.exec(key);
  return m ? Number(m[1]) / 100 : NaN;
}

/** A target's latency windows in a scenario (bench/_tail_histogram.ts), by repetition. */
function tailsByRep(c: Any, id: string): Map<number, TailHistogram> {
  const byRep = new Map<number, TailHistogram[]>();
  for (const w of (c?.tails?.[id] ?? []) as Any[]) {
    const list = byRep.get(w.rep) ?? [];
    list.push(decodeHistogram(w.histogram));
    byRep.set(w.rep, list);
  }
  return new Map([...byRep].map(([rep, list]) => [rep, merged(list)]));
}

/** Whether the run kept both targets' latency histograms, so the report pools their windows. */
function hasPooled(c: Any, a: string, b: string, key: string): boolean {
  return Number.isFinite(quantileFor(key)) && [a, b].every((id) => (c?.tails?.[id] ?? []).length > 0);
}

/**
 * A target's latency percentile over every delivery of its measured windows in the scenario, pooled
 * (bench/_tail_histogram.ts says why); NaN where the run kept no histograms.
 */
function pooledTail(c: Any, id: string, key: string): number {
  return quantileOf(merged([...tailsByRep(c, id).values()]), quantileFor(key));
}

/** A target's latency percentile for a table: pooled where the run kept histograms, else the median window's. */
function tailOf(c: Any, id: string, key: string): number {
  const pooled = pooledTail(c, id, key);
  return Number.isFinite(pooled) ? pooled : c?.med?.[id]?.[key];
}

/**
 * The 90 % bootstrap interval of a pooled ratio: whole repetitions drawn with replacement, the same ones
 * for both targets, since their windows in a repetition ran seconds apart.
 */
function pooledInterval(c: Any, a: string, b: string, key: string): [number, number] {
  const [ha, hb] = [tailsByRep(c, a), tailsByRep(c, b)];
  const reps = [...ha.keys()].filter((rep) => hb.has(rep));
  const q = quantileFor(key);
  return bootstrapInterval([reps], ([draw]) =>
    ratio(
      quantileOf(merged(draw.map((rep) => ha.get(rep)!)), q),
      quantileOf(merged(draw.map((rep) => hb.get(rep)!)), q),
    ));
}

/** The 90 % bootstrap interval of {@linkcode rel}: of the median of the paired ratios, else of the ratio of medians. */
function relInterval(c: Any, a: string, b: string, key: string): [number, number] {
  const paired = pairedRatios(c, a, b, key);
  return paired ? bootstrapInterval([paired], ([r]) => median(r)) : relTailInterval(c, a, b, key);
}

/**
 * The 90 % bootstrap interval of {@linkcode relTail}: of the median of the bracketed ratios, else with each
 * server's repetitions resampled on their own.
 */
function relTailInterval(c: Any, a: string, b: string, key: string): [number, number] {
  if (hasPooled(c, a, b, key)) return pooledInterval(c, a, b, key);
  const bracketed = bracketedRatios(c, a, b, key);
  if (bracketed) return bootstrapInterval([bracketed], ([r]) => median(r));
  const values = (id: string) => ((c?.samples?.[id] ?? []) as Any[]).map((x) => x[key] as number);
  return bootstrapInterval([values(a), values(b)], ([x, y]) => ratio(median(x), median(y)));
}

/**
 * Per fan-out size, the median over the repetitions of ours's paced p99 in its window right before the raw
 * baseline's ÷ in its window right after (runs that kept the window before, bench/_bracket.ts): whether a
 * window's place in the repetition moves its tail, which the bracket's mean would then carry.
 */
function placeRatios(F: Any[] | undefined, rt: string): Entry[] {
  return (F ?? []).flatMap((c: Any): Entry[] => {
    const list = ((c.samples?.[RAW[rt]] ?? []) as Any[]).filter((x) => Number.isFinite(x.beforeRefP99));
    if (!list.length) return [];
    // Runs that kept only the window before: the bracket was the geometric mean of the two, so the one after
    // is ref² ÷ before.
    const after = (x: Any) => Number.isFinite(x.afterRefP99) ? x.afterRefP99 : x.refP99 ** 2 / x.beforeRefP99;
    const v = median(list.map((x) => x.beforeRefP99 / after(x)));
    return [[`fan-out ${fanName(c)}`, v]];
  });
}

/** A count of connections, whole unless it is a mean over several windows (ours's, in a bracketed scenario). */
function count(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

/** The range of a field over the repetitions, as `min–max`. */
function spread(c: Any, id: string, key: string): string {
  const v = ((c?.samples?.[id] ?? []) as Any[]).map((x) => x[key]).filter(
    Number.isFinite,
  );
  return v.length ? `${fmt(Math.min(...v))}–${fmt(Math.max(...v))}` : "—";
}

/** Entries (config name, a ÷ b, its interval) over a scenario's configs, where both were measured. */
function pairs(
  list: Any[] | undefined,
  name: (c: Any) => string,
  a: string,
  b: string,
  key: string,
): Entry[] {
  const tail = key.startsWith("p9") || key.startsWith("p5");
  const by = tail ? relTail : rel;
  const interval = tail ? relTailInterval : relInterval;
  return (list ?? []).map((c: Any): Entry => [name(c), by(c, a, b, key), () => interval(c, a, b, key)]);
}

/** The idle runs with the fewest and the most connections (the same run when there is one). */
function idleEnds(r: Any): { smallest: Any; largest: Any } {
  const runs = [...((r.idle ?? []) as Any[])].sort((a, b) => a.conns - b.conns);
  return { smallest: runs[0], largest: runs[runs.length - 1] };
}

/**
 * The RSS each further connection added, in KiB: the slope between two idle
 * runs, so costs paid once (code compiled, pools grown) drop out. NaN when
 * the runs are the same or the target is missing from either.
 */
function marginalKiB(smallest: Any, largest: Any, id: string): number {
  if (smallest === largest || !largest?.med[id] || !smallest?.med[id]) return NaN;
  return ((largest.med[id].rssMiB - smallest.med[id].rssMiB) * 1024) / (largest.conns - smallest.conns);
}

/** The fewest clients that answered the idle scenario's broadcast in any repetition, as "answered / opened". */
function answeredOf(run: Any, id: string): string {
  const list = ((run.samples?.[id] ?? []) as Any[]).filter((x) => Number.isFinite(x.answered));
  const worst = list.sort((a, b) => a.answered / a.opened - b.answered / b.opened)[0];
  return worst ? `${worst.answered} / ${worst.opened}` : "—";
}

/**
 * What churn's calibration server (raw Bun with 10 µs of work per upgrade) read against raw Bun: its
 * rate and CPU per connection ÷ raw's, a short note for a check and a paragraph for the churn section.
 */
function churnCalibration(run: Any): { note: string; paragraph: string } | undefined {
  const slow = "bun-loop-slow";
  if (!run?.med?.[slow] || !run.med[RAW.bun]) return undefined;
  const rate = rel(run, slow, RAW.bun, "rate");
  const cpu = rel(run, slow, RAW.bun, "cpuUsPerConn");
  const client = rel(run, slow, RAW.bun, "clientCpuUsPerConn");
  const raw = run.med[RAW.bun];
  const busy = raw.rate * raw.clientCpuUsPerConn / 1e6;
  if (![rate, cpu, client, busy].every(Number.isFinite)) return undefined;
  const [r2, c2, k2, busyPct] = [rate.toFixed(2), cpu.toFixed(2), client.toFixed(2), (busy * 100).toFixed(0)];
  return {
    note: `a raw Bun server with 10 µs more work per upgrade read ${r2}× raw's rate at ${c2}× its CPU per ` +
      "connection (see Churn)",
    paragraph:
      `Calibration: the raw Bun server that spins 10 µs before each upgrade spends ${c2}× raw Bun's ` +
      `server CPU per connection, and reads ${r2}× its rate. The load generator is the bottleneck (its core ` +
      `${busyPct} % busy against raw Bun, most of it in the kernel: see bench/README.md), and a slower server's ` +
      `answers reach it in larger batches: the generator's CPU per connection read ${k2}× raw's against the ` +
      "slower server. So the rate cannot rank servers whose CPU per connection is this close (a slower one can " +
      (cpu >= 1.05
        ? "read faster); their CPU per connection does."
        : "read faster). In this run the machine's noise hid even those 10 µs in the CPU per connection, so " +
          "neither figure ranks servers this close here."),
  };
}

/**
 * The same send path in two raw Deno servers (idleTimeout 0 ÷ default) over the fan-out scenarios of
 * the run: the spread a comparison of two equal servers shows per scenario.
 */
function sameDenoPath(F: Any[] | undefined): string | undefined {
  const same = pairs(F, fanName, "deno-raw0", RAW.deno, "rate").filter(([, v]) => Number.isFinite(v));
  if (same.length < 2) return undefined;
  return "the same fan-out path in two raw Deno servers (idleTimeout 0 ÷ default) read " +
    `${range(same)} over the ${same.length} fan-out scenarios`;
}

/** The lowest and highest of some values, as `a–b`, or one figure when both read the same. */
function span(v: number[], digits: number): string {
  const [lo, hi] = [Math.min(...v).toFixed(digits), Math.max(...v).toFixed(digits)];
  return lo === hi ? lo : `${lo}–${hi}`;
}

/** The lowest and highest value of some entries, as `a–b×`. */
function range(list: Entry[]): string {
  return `${span(list.map(([, x]) => x), 2)}×`;
}

/**
 * What the Method says of the clocks: each process reads the wall clock once, at its start, so a step
 * of it between two starts offsets one from the other, and the load generator corrects for that.
 */
function clockNote(F: Any[] | undefined): string {
  const offsets = (F ?? []).flatMap((c) =>
    Object.values(c.samples ?? {}).flatMap((list) => (list as Any[]).map((x) => x.clockOffsetMs))
  ).filter((v) => typeof v === "number");
  const base =
    "Every process reads the wall clock once, at its start, and a monotonic clock from there; the load " +
    "generator measures each server's offset from its own clock when it connects (the quickest of 20 requests " +
    "to `/ctl/now`) and corrects the samples for one of 50 µs or more, which a step of the wall clock between " +
    "the two starts makes.";
  if (offsets.length === 0) return base;
  const off = offsets.filter((v) => v !== 0);
  if (off.length === 0) return `${base} In this run no server's clock was off.`;
  return `${base} In this run ${off.length} of ${offsets.length} fan-out windows had a server whose clock was ` +
    `off by ${span(off.map(Math.abs), 1)} ms, corrected.`;
}

/** One churn run as a table: rate, CPU per connection, drift and the RSS series per server. */
function churnTable(run: Any): string {
  const ch: Med = run.med;
  return (
    table(
      [
        "server",
        "connections/s",
        "× raw",
        "CPU µs/conn",
        "client CPU µs/conn",
        "RSS drift MiB",
        "drift − raw's MiB",
        "RSS MiB after each cycle",
        "failed",
        "open after",
      ],
      Object.entries(ch as Med).map(([id, s]) => {
        const base = baselineOf(id);
        const series = Object.keys(s).filter((k) => k.startsWith("rssAfterCycle"))
          .sort((a, b) => Number(a.slice(13)) - Number(b.slice(13))).map((
            k,
          ) => s[k]);
        return [
          label(id),
          fmt(s.rate),
          base ? fx(rel(run, id, base, "rate")) : "—",
          Number.isFinite(s.cpuUsPerConn) ? s.cpuUsPerConn.toFixed(1) : "—",
          Number.isFinite(s.clientCpuUsPerConn) ? s.clientCpuUsPerConn.toFixed(1) : "—",
          s.driftMiB.toFixed(2),
          base ? (s.driftMiB - ch[base]?.driftMiB).toFixed(2) : "—",
          series.length ? series.map((m) => m.toFixed(1)).join(", ") : s.rssMiB.toFixed(1),
          s.failed,
          Number.isFinite(s.openAfter) ? s.openAfter : "—",
        ];
      }),
    )
  );
}

/** The relative spread of ratios: median absolute deviation ÷ median. */
function relSpread(values: number[]): number {
  const m = median(values);
  return median(values.map((v) => Math.abs(v - m))) / m;
}

/**
 * The Method's sentence on bracketed repetitions (bench/_bracket.ts), with what they gained in this run:
 * the spread of the per-repetition ratios against the two windows of ours around each target, and against
 * ours's window farthest from it in the same repetition (as when every target ran once per repetition).
 * `tails`: whether the run bracketed a latency too ({@linkcode tailBracketed}).
 */
function bracketNote(r: Any, tails: boolean): string {
  if (!r.plan?.bracketed) return "";
  const near: number[] = [];
  const far: number[] = [];
  const scenarios: [Any, string][] = [
    ...[...(r.fanout ?? []), ...(r.echo ?? [])].map((c): [Any, string] => [c, "rate"]),
    ...[r.churn, r.churnFixedYoung].filter((c) => c?.bracket).map((c): [Any, string] => [c, "rate"]),
    ...(r.stall?.bracket ? [[r.stall, "liveRate"] as [Any, string]] : []),
  ];
  for (const [c, key] of scenarios) {
    const ref = refField(key);
    for (const [id, list] of Object.entries(c.samples ?? {}) as [string, Any[]][]) {
      const reference = referenceOf(id);
      if (!reference || !list.every((x) => Number.isFinite(x[ref]))) continue;
      near.push(relSpread(pairedRatios(c, reference, id, key)!));
      far.push(relSpread(list.map((x) => x[farField(key)] / x[key])));
    }
  }
  const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
  const geometric = geometricTails(r);
  const names = [
    "fan-out",
    "echo",
    ...(r.churn?.bracket ? ["churn"] : []),
    ...(r.stall?.bracket ? ["stalled peers"] : []),
  ];
  return ` In ${names.slice(0, -1).join(", ")} and ${names.at(-1)} each of the other targets ` +
    "runs between two windows of ours on its runtime " +
    "(Node's servers: ours on Deno), and ours ÷ that target is taken against the mean of those two " +
    "(bench/_bracket.ts): the machine's slow phases last seconds, a repetition of every target tens of " +
    "seconds." +
    (near.length
      ? ` In this run the per-repetition ratios of those ${near.length} comparisons spread by a median of ` +
        `${pct(median(near))} (median absolute deviation ÷ median) against the two windows around each ` +
        `target, and by ${pct(median(far))} against ours's window farthest from it in the same repetition.`
      : "") +
    (tails && pooledRun(r)
      ? " The paced latency windows of fan-out bracket each raw baseline the same way (ours, raw, ours on " +
        "each runtime; the other targets' paced windows run once each), and echo's windows measure latency " +
        "too, so that ours's pooled deliveries come from the same stretches of the run as the raw baseline's."
      : "") +
    (tails && !pooledRun(r)
      ? " The paced latency windows of fan-out bracket each raw baseline the same way (ours, raw, ours on " +
        "each runtime; the other targets' paced windows run once each), and echo's windows measure latency " +
        "too: there ours ÷ raw for p50 and p99 is the median of the per-repetition ratios against " +
        (geometric ? "the geometric mean " : "the mean ") +
        "of ours's two windows, since a p99 also moves with the machine's state (bench/README.md)." +
        (geometric
          ? " Ours's own p50 and p99 in a repetition are the geometric mean of its windows too: a window's " +
            "percentile is skewed to the right, and an arithmetic mean of several would read above a typical " +
            "window of ours."
          : "")
      : "");
}

/** What bracketing a churn run does to ours's cycles (empty for a run that did not). */
function churnBracketNote(c: Any): string {
  if (!c?.bracket) return "";
  const windows = Object.entries(OURS).filter(([, id]) => c.samples?.[id]).map(([rt, id]) => {
    const bracketed = Object.keys(c.samples).filter((t) => referenceOf(t) === id).length;
    return `${bracketed + 1} windows of ${c.perCycle} on ${rt === "bun" ? "Bun" : "Deno"}`;
  });
  // The Node servers' reference is ours on Deno; a table without them (the fixed young generation's) says nothing of them.
  const node = Object.keys(c.samples ?? {}).some((id) => TARGETS[id]?.runtime === "node");
  return " Each other target's cycle runs between two cycles' worth of connections of ours on its runtime" +
    (node ? " (Node's servers: ours on Deno)" : "") +
    ", and ours ÷ that target, by rate and by server CPU per connection, is " +
    "taken against the mean of those two windows. Ours therefore opens and closes that many more connections " +
    `in a cycle (${windows.join(", ")}), and its drift is over all of them.`;
}

/**
 * Whether the run combined ours's latency windows by their geometric mean (bench/_bracket.ts); the runs
 * before it recorded `tailMean` as nothing and took the arithmetic mean.
 */
function geometricTails(r: Any): boolean {
  return r.plan?.tailMean === "geometric";
}

/** What the Method says of the quiet before each paced window (empty for a run without one). */
function settleNote(F: Any[] | undefined): string {
  const ms = Math.max(0, ...(F ?? []).map((c: Any) => c.settleMs ?? 0));
  if (!(ms > 0)) return "";
  return ` The load generator's heap is collected too, and the window opens after ${ms} ms with nothing ` +
    "running, so that the process of the window before (a saturating one, or another runtime's) has finished " +
    "what it does on going idle on the server core.";
}

/** Whether the run kept every latency window's histogram (bench/_tail_histogram.ts), which the report pools. */
function pooledRun(r: Any): boolean {
  return [...(r.fanout ?? []), ...(r.echo ?? [])].some((c: Any) => Object.keys(c.tails ?? {}).length > 0);
}

/** Whether the run bracketed the latency of a raw baseline with ours's (runs before it did not). */
function tailBracketed(r: Any): boolean {
  return [...(r.fanout ?? []), ...(r.echo ?? [])].some((c: Any) =>
    ["bun", "deno"].some((rt) => bracketedRatios(c, OURS[rt], RAW[rt], "p99") !== undefined)
  );
}

export function writeReport(r: Any): string {
  const out: string[] = [];
  // A report re-rendered from a run's JSON keeps the run's date (older runs did not record one).
  const when = (r.writtenAt ?? new Date().toISOString()).replace("T", " ").slice(0, 16) + " UTC";
  const tails = tailBracketed(r);
  out.push(
    "# Benchmark results",
    "",
    `Written by \`deno task bench${r.mode === "full" ? " --full" : ""}\` (${r.mode} mode) on ${when}; ` +
      `the run took ${Math.round(r.durationS)} s. Every figure below comes from this one run. ` +
      `Raw numbers: \`${r.rawPath ?? "bench/results/last_run.json"}\`.` +
      (r.mode === "full"
        ? ""
        : " Quick mode checks that every scenario runs: its windows last a tenth of a full run's and most " +
          "figures come from one to three repetitions without brackets, so its ratios spread several times " +
          "as far. The targets are judged on a full run (`deno task bench --full`, bench/RESULTS.md)."),
    "",
  );
  if (r.errors?.length) {
    out.push(
      "**Problems during the run:**",
      "",
      ...r.errors.map((e: string) => `- ${e}`),
      "",
    );
  }

  out.push("## Machine and versions", "");
  const m = r.machine ?? {};
  out.push(
    table(["", ""], [
      ["cores (`nproc`)", m.nproc],
      ["CPU", m.model],
      ["memory", `${(m.memGiB ?? 0).toFixed(1)} GiB`],
      ["kernel", m.kernel],
      ["pinning", m.pinning],
      ...Object.entries(r.versions ?? {}).map(([k, v]) => [k, String(v)]),
    ]),
    "",
    "The machine is shared with other work while the benchmark runs, so absolute numbers are noisy; " +
      "the ratios compare targets measured in alternation within the same seconds, which is what makes them " +
      "meaningful.",
    "",
  );

  out.push("## Method", "");
  out.push(
    "- Each server runs in its own process pinned to core 0; the load generator (`bench/load/worker.ts`, Bun) " +
      "runs pinned to core 1. Server CPU is read from `/proc/<pid>/stat` (1.00 = one full core), peak RSS " +
      "from `VmHWM` in `/proc/<pid>/status`.",
    `- Every figure is the median of ${r.plan?.reps ?? "?"} repetitions (fan-out throughput: ${
      r.plan?.fanoutReps ?? r.plan?.reps
    } over ${r.plan?.fanoutGenerations ?? 1} set(s) of fresh server processes and connections, ${
      r.plan?.latencyInEveryRep ? "each with" : `of which the first ${r.plan?.reps ?? "?"} also have`
    } the paced latency phase; echo: ${
      (r.plan?.echo ?? []).map((e: Any) =>
        `${e.reps ?? r.plan?.reps} with ${e.conns} connection${e.conns === 1 ? "" : "s"}`
      )
        .join(", ")
    }; the other scenarios say their own) after a warm-up; within a repetition ` +
      "the targets run one after another and the order rotates (and reverses) between repetitions, so slow " +
      "drifts of the machine hit every target alike. A throughput ratio is the median of the per-repetition " +
      "ratios; " +
      (pooledRun(r)
        ? "a latency percentile is read over every delivery of a target's measured windows in the scenario, " +
          "pooled (each window's samples kept as a histogram of 1.1 % bins, bench/_tail_histogram.ts), and a " +
          "latency ratio is the ratio of two such percentiles, its interval drawn from whole repetitions: the " +
          "p99 of one short paced window is set by the one or two broadcasts that a collection or a scheduling " +
          "hiccup delayed (at 1 000 clients one broadcast is 1.7 % of a window's samples), so per-window ratios " +
          "spread by tens of percent between windows of the same code, while the pooled p99 averages those " +
          "hiccups over hundreds of broadcasts and is the tail a user sees."
        : "a latency percentile's ratio is the ratio of the medians (a p99 is the tail of one short window, " +
          "mostly its own noise, which pairing two windows tens of seconds apart would only multiply)" +
          (tails ? ", except where the run brackets it (below)." : ".")) +
      bracketNote(r, tails),
    "- Ratios are against a baseline in the same run: raw `Bun.serve` with a JS `send()` loop (and its " +
      "`publish()` as the ceiling) for Bun, raw `Deno.serve` with its default `idleTimeout` (and with " +
      "`idleTimeout: 0`) for Deno. Peers: Hono's WebSocket helper and crossws on both runtimes, `ws` and " +
      "Socket.IO 4 on Node.",
    "- Every server runs the same application: fan-out frames are JSON envelopes built once per broadcast " +
      '(`{"type":"f","t":<send time>,"p":"<padding>"}`; the size named is the padding); echo parses each ' +
      "envelope with `JSON.parse` and answers `JSON.stringify` of it (steadysocket: `conn.sendJson(message)`); " +
      "Socket.IO uses its own events (`io.emit`, `socket.emit`).",
    "- Fan-out saturates with one rule for every server: broadcast a batch, yield to the event loop, and wait " +
      "while any reader has more than 64 KiB buffered. Delivered msg/s counts what the clients received, up to " +
      "the last message; reach = received ÷ (broadcasts × clients). p50/p99 delivery latency comes from a " +
      "separate paced phase (a broadcast every 2 ms with 32 clients, every 20 ms with 1 000), from send time " +
      "to receive time on the shared clock; each paced window starts from a collected heap on its server (a " +
      "forced collection), so that a major collection owed to the saturating windows before it does not " +
      `become its p99.${settleNote(r.fanout)} ${clockNote(r.fanout)}`,
    "- Every fan-out window (saturating and paced) starts with a heartbeat round for its target: the server " +
      "pings each client once and every client answers before the window opens. A client socket that answers " +
      "a ping enters the kernel's interactive TCP mode and acknowledges differently, which costs the sending " +
      "server up to a third more CPU per frame; servers with a heartbeat put their peers in that state and " +
      "servers without one do not, so without the round a fan-out compares TCP states rather than servers " +
      "(see bench/README.md and `bench/ack_mode.ts`).",
    "- Fan-out, echo, churn and the live readers of the stalled-peers scenario use a lean frame-level " +
      "client over Bun's own TCP sockets (no WebSocket object, no event or string per message: the frames of a read are scanned in place, and only a ping or a " +
      "latency sample is decoded; what it writes is pre-encoded and masked), so that the server, not the " +
      "client, is the bottleneck: with WebSocket objects the client spent about ten times what Bun's " +
      "`publish()` spends per frame, and every `publish()`-based server was measured by its client. The " +
      'column "client CPU" shows it. Where one client core still could not keep up, the fan-out section ' +
      "names the targets it bound. In echo each connection keeps one request in flight. Churn stays bound " +
      "by the client's side of the TCP handshakes on loopback (its kernel work runs on the client's core), so " +
      "its table also gives server CPU per connection. The idle connections are Bun `WebSocket`s.",
    "- steadysocket runs with every mechanism on (origin and capacity guards, a rate bucket, the heartbeat, " +
      "the slow-consumer bound); only the caps are raised to the benchmark's scale.",
    "",
  );

  // ---- summary
  const checks: Check[] = [];
  const F = r.fanout as Any[] | undefined;
  const E = r.echo as Any[] | undefined;
  const echoName = (c: Any) => `echo ${c.conns}`;
  const both = (
    what: string,
    goal: number,
    list: Any[] | undefined,
    name: (c: Any) => string,
    a: string,
    b: string,
  ) => {
    const c = atLeast(what, goal, pairs(list, name, a, b, "rate"));
    const bound = clientBoundNote(list, name, c.where ?? "", [a, b]);
    checks.push({ ...c, alt: [costAlt(list, name, a, b), bound].filter(Boolean).join("; ") });
  };
  both(
    "Fan-out, Bun: steadysocket ÷ send loop",
    0.95,
    F,
    fanName,
    "bun-steady",
    "bun-loop",
  );
  both(
    "Fan-out, Bun: steadysocket ÷ publish()",
    0.95,
    F,
    fanName,
    "bun-steady",
    "bun-publish",
  );
  both(
    "Fan-out, Deno: steadysocket ÷ raw (default)",
    0.95,
    F,
    fanName,
    "deno-steady",
    "deno-raw",
  );
  both(
    "Echo, Bun: steadysocket ÷ raw",
    0.95,
    E,
    echoName,
    "bun-steady",
    "bun-loop",
  );
  both(
    "Echo, Deno: steadysocket ÷ raw at its default",
    1.0,
    E,
    echoName,
    "deno-steady",
    "deno-raw",
  );
  both(
    "Echo, Deno: steadysocket ÷ raw idleTimeout 0",
    0.95,
    E,
    echoName,
    "deno-steady",
    "deno-raw0",
  );
  for (const rt of ["bun", "deno"]) {
    const p99: Entry[] = [
      ...pairs(F, (c) => `fan-out ${fanName(c)}`, OURS[rt], RAW[rt], "p99"),
      ...pairs(E, echoName, OURS[rt], RAW[rt], "p99"),
    ];
    const check = atMost(
      `p99 latency, ${rt === "bun" ? "Bun" : "Deno"}: steadysocket ÷ raw`,
      1.1,
      p99,
      "×",
    );
    // Per fan-out size, the p99 of a ÷ that of b (where both were measured).
    const fanTail = (a: string, b: string) =>
      pairs(F, (c) => `fan-out ${fanName(c)}`, a, b, "p99").filter(([, v]) => Number.isFinite(v));
    const worst = (list: Entry[]) => {
      const [where, v] = list.reduce((a, b) => (b[1] > a[1] ? b : a));
      return `at most ${v.toFixed(2)}× (${where})`;
    };
    const notes: string[] = [];
    // The same windows read one at a time, as the runs before pooling did: how much of a miss is one window's
    // own tail.
    const perRep = [...F ?? [], ...E ?? []].filter((c) => hasPooled(c, OURS[rt], RAW[rt], "p99"));
    if (perRep.length) {
      const name = (c: Any) => ("clients" in c ? `fan-out ${fanName(c)}` : echoName(c));
      const list: Entry[] = perRep.map((c) => [name(c), perRepTail(c, OURS[rt], RAW[rt], "p99")]);
      notes.push(`each window's own p99, median of the per-repetition ratios: ${range(list)}`);
    }
    if (rt === "bun") {
      // Ours writes through publish(): its tail is the mechanism's, compared with the loop baseline above.
      const vsPublish = fanTail("bun-steady", "bun-publish");
      if (vsPublish.length) {
        notes.push(
          `÷ publish() (the mechanism ours uses): ${worst(vsPublish)}; ` +
            `publish() itself ÷ the loop: ${range(fanTail("bun-publish", "bun-loop"))}`,
        );
      }
      // The same library writing with the send loop: what the tail is without publish().
      const loopMode = fanTail("bun-steady-loop", "bun-loop");
      if (loopMode.length) notes.push(`with \`fanout: "loop"\` ÷ the loop: ${worst(loopMode)}`);
      // Hono's helper broadcasts with a send loop over Bun's sockets as well: how far apart two send loops'
      // tails fall in one run, read where ours's worst case falls (at 1 000 clients the helper also spends
      // more CPU per frame than raw, so there it is not the same cost).
      const honoThere = fanTail("bun-hono", "bun-loop").find(([where]) => where === check.where);
      if (honoThere) {
        notes.push(`Hono's helper (a send loop too) ÷ the loop there: ${honoThere[1].toFixed(2)}×`);
      }
      // In echo the publish() server runs the loop server's very code (it only subscribes at open):
      // how far apart noise alone puts two servers' echo p99s.
      const echoSame = pairs(E, echoName, "bun-publish", "bun-loop", "p99").filter(([, v]) =>
        Number.isFinite(v)
      );
      if (echoSame.length) {
        notes.push(`in echo, raw publish() (the loop server's echo code) ÷ the loop: ${range(echoSame)}`);
      }
    }
    if (rt === "deno") {
      // The same fan-out code with and without Deno's idle timer: how far apart noise alone puts two p99s.
      const same = fanTail("deno-raw0", "deno-raw");
      if (same.length) {
        notes.push(
          `raw Deno idleTimeout 0 ÷ default (the same fan-out path) in the same run: ${range(same)}`,
        );
      }
    }
    const place = placeRatios(F, rt);
    if (place.length) {
      notes.push(
        `ours's paced window right before raw's ÷ its window right after (median of the repetitions): ${
          range(place)
        }`,
      );
    }
    if (notes.length) check.alt = notes.join("; ");
    checks.push(check);
  }
  // The check takes the worst N. RSS delta ÷ N also carries what a process pays once, or in steps, whatever
  // N is: on Bun, ours's hot paths reach the JIT's optimizing tier while the first few thousand connections
  // open, which pages in its compiler from Bun's binary (file-backed), and the engine's heap grows in steps.
  // The notes give every N without the file-backed part, the engine's heap per connection, and the marginal
  // cost (slope between the smallest and largest N), from which such costs drop out.
  const { smallest, largest } = idleEnds(r);
  const marginal = (id: string) => marginalKiB(smallest, largest, id);
  for (const [rt, goal] of [["bun", 0.5], ["deno", 1]] as const) {
    const runs = (r.idle ?? []).filter((c: Any) => c.med[OURS[rt]] && c.med[RAW[rt]]);
    const extraAt = (c: Any, key: (m: Any) => number) => key(c.med[OURS[rt]]) - key(c.med[RAW[rt]]);
    const entries: [string, number][] = runs.map((c: Any) => [
      `${c.conns} connections`,
      extraAt(c, (m) => m.perConnKiB),
    ]);
    const c = atMost(
      `Extra memory per connection, ${rt === "bun" ? "Bun" : "Deno"}`,
      goal,
      entries,
      "KiB",
    );
    const notes: string[] = [];
    const list = (key: (m: Any) => number, digits: number) =>
      runs.map((c: Any) => `${extraAt(c, key).toFixed(digits)} (${c.conns})`).join(", ");
    if (runs.length > 1) notes.push(`at every N: ${list((m) => m.perConnKiB, 2)} KiB`);
    if (runs.length && runs.every((c: Any) => Number.isFinite(extraAt(c, (m) => m.perConnFileKiB)))) {
      notes.push(
        `without the file-backed part (the runtime's code paged in from its binary, once per process): ${
          list((m) => m.perConnKiB - m.perConnFileKiB, 2)
        } KiB`,
      );
    }
    if (runs.length && runs.every((c: Any) => Number.isFinite(extraAt(c, (m) => m.heapUsedPerConnB)))) {
      notes.push(
        `the engine's heap, live objects: ${list((m) => m.heapUsedPerConnB, 0)} B; held for them: ${
          list((m) => m.heapHeldPerConnB, 0)
        } B`,
      );
    }
    const afterOf = (id: string) => largest?.med[id]?.perConnAfterBroadcastKiB;
    const after = afterOf(OURS[rt]) - afterOf(RAW[rt]);
    if (Number.isFinite(after)) {
      const vsPublish = rt === "bun" ? afterOf(OURS[rt]) - afterOf("bun-publish") : NaN;
      notes.push(
        "after one broadcast to the room" +
          (rt === "bun"
            ? " (each socket then holds the room's Bun topic, which a raw publish() server pays at open)"
            : "") +
          `: ${after.toFixed(2)} KiB` +
          (Number.isFinite(vsPublish) ? `, vs publish() server ${vsPublish.toFixed(2)} KiB` : ""),
      );
    }
    if (rt === "bun" && largest?.med["bun-publish"]) {
      notes.push(
        `idle, vs publish() server (its sockets hold a topic from open on): ${
          (largest.med[OURS[rt]].perConnKiB -
            largest.med["bun-publish"].perConnKiB).toFixed(2)
        } KiB`,
      );
    }
    if (rt === "bun" && largest?.med["bun-steady-loop"]) {
      notes.push(
        `with \`fanout: "loop"\` (no topic per socket): ${
          (largest.med["bun-steady-loop"].perConnKiB -
            largest.med[RAW[rt]].perConnKiB).toFixed(2)
        } KiB`,
      );
    }
    const m = marginal(OURS[rt]) - marginal(RAW[rt]);
    if (Number.isFinite(m)) {
      notes.push(
        `marginal ${smallest.conns}→${largest.conns}: ${m.toFixed(2)} KiB`,
      );
    }
    const o = r.overhead?.[rt];
    if (o) {
      const wrapper = Number.isFinite(o.bunWrapperBytes) ? o.bunWrapperBytes : 0;
      notes.push(
        `JS heap in process: ${
          (o.endpointBytesPerConn + wrapper - o.rawRegistryBytesPerConn)
            .toFixed(0)
        } B ` +
          `more than a raw registry${
            wrapper ? ` (of which the adapter's socket wrapper ${wrapper.toFixed(0)} B)` : ""
          }`,
      );
    }
    if (notes.length) c.alt = notes.join("; ");
    checks.push(c);
  }
  const sw = r.sweep ?? {};
  checks.push(
    atMost(
      "Heartbeat sweep per 100 000 connections (nobody due)",
      3,
      Object.entries(sw).map((
        [k, v]: [string, Any],
      ) => [k, (v.quietSweepMsMedian * 100_000) / v.connections]),
      "ms",
    ),
  );
  checks.push(
    atMost(
      "Timer calls while receiving messages",
      0,
      Object.entries(sw).map(([k, v]: [string, Any]) => [
        k,
        Object.values(v.timerCallsDuringMessages as Record<string, number>)
          .reduce((a, b) => a + b, 0),
      ]),
      "",
      0,
    ),
  );
  const ch = r.churn?.med ?? {};
  for (const [rt, goal] of [["bun", 2], ["deno", 5]] as const) {
    // On Deno the drift is read with V8's young generation fixed (see the Churn section): at the
    // defaults V8 grows it in steps of several MiB under churn, raw Deno as much as any library.
    const fixed = rt === "deno" ? r.churnFixedYoung?.med : undefined;
    const src = fixed ?? ch;
    const c = atMost(
      `RSS drift over 5 churn cycles, ${rt === "bun" ? "Bun" : "Deno"}${
        fixed ? " (young generation fixed in every Deno server)" : ""
      }`,
      goal,
      [[rt, src[OURS[rt]]?.driftMiB]],
      "MiB",
    );
    const raw = src[RAW[rt]]?.driftMiB;
    const heap = r.overhead?.[rt]?.churnHeapDriftKiB;
    const ours0 = ch[OURS[rt]]?.driftMiB;
    const raw0 = ch[RAW[rt]]?.driftMiB;
    c.alt = [
      Number.isFinite(raw) ? `raw runtime drifted ${raw.toFixed(2)} MiB in the same run` : "",
      fixed && Number.isFinite(ours0)
        ? `at V8's default young generation: ours ${ours0.toFixed(2)}, raw ${raw0?.toFixed(2)} MiB`
        : "",
      Number.isFinite(heap) ? `JS heap over 20 000 connections in process: ${heap.toFixed(0)} KiB` : "",
    ].filter(Boolean).join("; ");
    checks.push(c);
  }
  const rc = r.client?.receive ?? {};
  checks.push(
    atLeast(
      "Client receive rate ÷ raw WebSocket",
      0.8,
      Object.entries(rc).map((
        [k, v]: [string, Any],
      ) => [k, v.steadysocket?.ratio]),
    ),
  );
  for (const peer of ["hono", "crossws"]) {
    // The same comparisons for the raw runtime, to tell a floor from a cost.
    const entries: Entry[] = [];
    const rawEntries = new Map<string, number>();
    for (const rt of ["bun", "deno"]) {
      const o = OURS[rt];
      const p = `${rt}-${peer}`;
      const add = (name: string, c: Any, key: string) => {
        entries.push(...pairs([c], () => name, o, p, key));
        rawEntries.set(name, rel(c, RAW[rt], p, key));
      };
      for (const c of F ?? []) add(`${rt} fan-out ${fanName(c)}`, c, "rate");
      for (const c of E ?? []) add(`${rt} ${echoName(c)}`, c, "rate");
      if (r.churn) add(`${rt} churn`, r.churn, "rate");
      if (r.stall) add(`${rt} stalled peers`, r.stall, "liveRate");
    }
    const c = atLeast(
      `At least as fast as ${peer === "hono" ? "Hono's helper" : "crossws"} (every scenario)`,
      1.0,
      entries,
    );
    const floor = rawEntries.get(c.where ?? "");
    const notes: string[] = [];
    if (Number.isFinite(floor)) notes.push(`the raw runtime there: ${floor!.toFixed(2)}×`);
    // Churn is bound by the client's side of the TCP handshakes, and a stalled-peers window's live rate varies
    // by ±15 %: there, server CPU per unit of work tells the servers apart better than the rate.
    const byCpu: [RegExp, Any, string, string][] = [
      [/^(bun|deno) churn$/, r.churn, "cpuUsPerConn", "connection"],
      [/^(bun|deno) stalled peers$/, r.stall, "cpuUsPerMsg", "live frame"],
    ];
    for (const [pattern, run, key, unit] of byCpu) {
      const rt = c.where?.match(pattern)?.[1];
      if (rt === undefined || !run) continue;
      const cpu = rel(run, `${rt}-${peer}`, OURS[rt], key);
      if (Number.isFinite(cpu)) notes.push(`by server CPU per ${unit} (theirs ÷ ours): ${cpu.toFixed(2)}×`);
    }
    if (c.where === "bun churn") {
      const cal = churnCalibration(r.churn);
      if (cal) notes.push(cal.note);
    }
    if (/^deno fan-out /.test(c.where ?? "")) {
      const aa = sameDenoPath(F);
      if (aa) notes.push(aa);
    }
    const fanRt = c.where?.match(/^(bun|deno) fan-out (.*)$/);
    if (fanRt) {
      const bound = clientBoundNote(F, fanName, fanRt[2], [OURS[fanRt[1]], `${fanRt[1]}-${peer}`]);
      if (bound) {
        const run = F?.find((x: Any) => fanName(x) === fanRt[2]);
        const cpu = rel(run, `${fanRt[1]}-${peer}`, OURS[fanRt[1]], "cpuUsPerMsg");
        if (Number.isFinite(cpu)) notes.push(`by server CPU per frame (theirs ÷ ours): ${cpu.toFixed(2)}×`);
        notes.push(bound);
      }
    }
    if (notes.length) c.alt = notes.join("; ");
    checks.push(c);
  }
  const sio: Entry[] = [];
  const sioRaw = new Map<string, number>();
  for (const rt of ["bun", "deno"]) {
    sio.push(...pairs(F, (c) => `${rt} ${fanName(c)}`, OURS[rt], "node-sio", "rate"));
    for (const c of F ?? []) sioRaw.set(`${rt} ${fanName(c)}`, rel(c, RAW[rt], "node-sio", "rate"));
  }
  const sc = atLeast("Fan-out ÷ Socket.IO", 1.5, sio);
  const sf = sioRaw.get(sc.where ?? "");
  if (Number.isFinite(sf)) sc.alt = `the raw runtime there: ${sf!.toFixed(2)}×`;
  checks.push(sc);
  // The same fan-out comparisons with both servers in one process (bench/same_process.ts).
  const addNote = (what: string, note: string) => {
    const c = checks.find((x) => x.what.startsWith(what));
    if (c !== undefined && note !== "") c.alt = c.alt ? `${c.alt}; ${note}` : note;
  };
  const ownServer = "on our own server and sockets, alternating windows (bench/same_process.ts):";
  addNote(
    "Fan-out, Bun: steadysocket ÷ publish()",
    sameProcessNote(r, "bun", "publish", inOneProcess("publish()")),
  );
  addNote(
    "Fan-out, Bun: steadysocket ÷ publish()",
    sameProcessNote(r, "bun", "direct", `${ownServer} Bun's publish() called directly ÷ ours`),
  );
  addNote(
    "Fan-out, Bun: steadysocket ÷ send loop",
    sameProcessNote(r, "bun", "loop", inOneProcess("the send loop")),
  );
  addNote("Fan-out, Deno", sameProcessNote(r, "deno", "raw", inOneProcess("raw Deno at its default")));
  addNote("Fan-out, Deno", sameProcessNote(r, "deno", "direct", `${ownServer} a send loop over them ÷ ours`));
  addNote("p99 latency, Deno", sameProcessNote(r, "deno", "raw", inOneProcess("raw Deno at its default")));
  addNote("p99 latency, Bun", sameProcessNote(r, "bun", "publish", inOneProcess("publish()")));
  out.push("## Summary", "");
  out.push(
    table(
      [
        "target",
        "goal",
        "measured (worst case)",
        "where",
        "90 % interval",
        "result",
        "by server CPU per message / note",
      ],
      checks.map((c) => [
        c.what,
        c.goal,
        c.shown,
        c.where ?? "",
        c.interval && Number.isFinite(c.interval[0])
          ? `${c.interval[0].toFixed(2)}–${c.interval[1].toFixed(2)}×`
          : "",
        c.pass === undefined ? "not measured" : c.pass ? "pass" : "**miss**",
        c.alt ?? "",
      ]),
    ),
    "",
    "The interval is a 90 % bootstrap interval of the worst case's ratio, from its repetitions (each " +
      "resampled with replacement, 2 000 times): a miss whose interval reaches the goal is within this run's " +
      "noise, one whose interval lies wholly on the wrong side is not.",
    "",
    "The last column repeats a throughput comparison as the baseline's server CPU time per message ÷ ours " +
      "(≥ 1: we spend no more CPU per message), which the server being descheduled by other work on the " +
      "machine disturbs less than throughput; for the peers it gives the raw runtime's own ratio at the same " +
      "place, which tells a floor of the runtime (or the machine's noise) from a cost of the library.",
    "",
  );
  r.summary = checks;

  // ---- fan-out
  if (F?.length) {
    out.push("## Fan-out", "");
    for (const f of F) {
      out.push(`### ${f.clients} clients, ${f.bytes} B`, "");
      const rows = Object.entries(f.med as Med).map(([id, s]) => {
        const base = baselineOf(id);
        return [
          label(id),
          fmt(s.rate),
          spread(f, id, "rate"),
          base ? fx(rel(f, id, base, "rate")) : "—",
          TARGETS[id]?.runtime === "bun" ? fx(rel(f, id, "bun-publish", "rate")) : "—",
          s.reach.toFixed(3),
          tailOf(f, id, "p50").toFixed(3),
          tailOf(f, id, "p99").toFixed(3),
          base ? fx(relTail(f, id, base, "p99")) : "—",
          s.cpuUsPerMsg.toFixed(3),
          base ? fx(rel(f, id, base, "cpuUsPerMsg")) : "—",
          s.cpu.toFixed(2),
          s.clientCpu.toFixed(2),
          fmt(f.peakMiB?.[id], 0),
        ];
      });
      out.push(
        table(
          [
            "server",
            "delivered msg/s",
            "range over repetitions",
            "× raw",
            "× publish()",
            "reach",
            "p50 ms",
            "p99 ms",
            "p99 × raw",
            "CPU µs/msg",
            "CPU/msg × raw",
            "server CPU",
            "client CPU",
            "peak RSS MiB",
          ],
          rows,
        ),
        "",
      );
      out.push(comparisons(f), "");
      const late = scheduleNote(f);
      if (late) out.push(late, "");
      const bound = clientBound(f, Object.keys(f.med ?? {}));
      if (bound.length) {
        out.push(
          `Bound by the load generator at this size (server CPU below ${BOUND_SHARE.toFixed(2)}, the load ` +
            `generator's core at ${BOUND_SHARE.toFixed(2)} or more): ${
              bound.map((id) => `${label(id)} (${f.med[id].cpu.toFixed(2)})`).join(", ")
            }. Their delivered rate is what the one client core read, so a throughput ratio between two of ` +
            "them compares the client's pace in their windows; CPU µs/msg compares their servers. " +
            "`bench/client_ceiling.ts` splits the client's time there into the kernel's, the runtime's and its own.",
          "",
        );
      }
    }
  }

  if (E?.length) {
    out.push("## Echo", "");
    for (const e of E) {
      out.push(
        `### ${e.conns} connection${e.conns > 1 ? "s" : ""}, closed loop`,
        "",
      );
      const rows = Object.entries(e.med as Med).map(([id, s]) => {
        const base = baselineOf(id);
        return [
          label(id),
          fmt(s.rate),
          spread(e, id, "rate"),
          base ? fx(rel(e, id, base, "rate")) : "—",
          tailOf(e, id, "p50").toFixed(3),
          tailOf(e, id, "p99").toFixed(3),
          base ? fx(relTail(e, id, base, "p99")) : "—",
          s.cpuUsPerMsg.toFixed(2),
          base ? fx(rel(e, id, base, "cpuUsPerMsg")) : "—",
          s.cpu.toFixed(2),
          s.clientCpu.toFixed(2),
        ];
      });
      out.push(
        table([
          "server",
          "round trips/s",
          "range over repetitions",
          "× raw",
          "p50 ms",
          "p99 ms",
          "p99 × raw",
          "CPU µs/msg",
          "CPU/msg × raw",
          "server CPU",
          "client CPU",
        ], rows),
        "",
      );
      out.push(comparisons(e), "");
    }
  }

  if (r.idle?.length) {
    out.push("## Idle connections", "");
    out.push(
      "A fresh server per repetition; resident memory before and after opening N connections (after a GC " +
        'where the runtime exposes one), divided by N ("of it file-backed": the part mapped from files, the ' +
        "runtime's own code run for the first time while the connections opened, such as the compiler of an " +
        'optimizing JIT tier, paid once per process and not per connection; "heap live" and "heap held": ' +
        "what the engine's heap grew by per connection, in its live objects and in what it holds for them, " +
        "which it grows in steps); then server CPU over an idle window with the heartbeat on (steadysocket's defaults: ping after 25 s of silence, one sweep timer). Every connection is in one " +
        "room (steadysocket) or topic (publish() servers). Last, one broadcast to all of them, which every " +
        'client answers (the last column: the fewest that did in any repetition), and the memory again ("after a ' +
        'broadcast"): what a connection costs once a room is ' +
        "published to (on Bun, steadysocket subscribes a room's sockets to its topic at the room's first " +
        "broadcast).",
      "",
    );
    for (const c of r.idle) {
      out.push(`### ${c.conns} connections`, "");
      const rows = Object.entries(c.med as Med).map(([id, s]) => {
        const base = baselineOf(id);
        return [
          label(id),
          s.perConnKiB.toFixed(2),
          Number.isFinite(s.perConnFileKiB) ? s.perConnFileKiB.toFixed(2) : "—",
          Number.isFinite(s.heapUsedPerConnB) ? s.heapUsedPerConnB.toFixed(0) : "—",
          Number.isFinite(s.heapHeldPerConnB) ? s.heapHeldPerConnB.toFixed(0) : "—",
          base ? (s.perConnKiB - c.med[base]?.perConnKiB).toFixed(2) : "—",
          TARGETS[id]?.runtime === "bun" && c.med["bun-publish"]
            ? (s.perConnKiB - c.med["bun-publish"].perConnKiB).toFixed(2)
            : "—",
          Number.isFinite(s.perConnAfterBroadcastKiB) ? s.perConnAfterBroadcastKiB.toFixed(2) : "—",
          base && Number.isFinite(s.perConnAfterBroadcastKiB)
            ? (s.perConnAfterBroadcastKiB - c.med[base]?.perConnAfterBroadcastKiB).toFixed(2)
            : "—",
          s.rssMiB.toFixed(1),
          (s.idleCpu * 100).toFixed(2) + " %",
          `${s.opened}${s.failed ? ` (${s.failed} failed)` : ""}`,
          answeredOf(c, id),
        ];
      });
      out.push(
        table([
          "server",
          "KiB per connection",
          "of it file-backed KiB",
          "heap live B",
          "heap held B",
          "extra vs raw KiB",
          "extra vs publish() KiB",
          "KiB after a broadcast",
          "extra vs raw after KiB",
          "RSS MiB",
          "idle CPU",
          "opened",
          "answered the broadcast",
        ], rows),
        "",
      );
    }
    const { smallest: lo, largest: hi } = idleEnds(r);
    if (hi.conns > lo.conns) {
      out.push(
        `### Marginal memory, ${lo.conns} → ${hi.conns} connections`,
        "",
        "The RSS added by each further connection: (RSS at the larger N − RSS at the smaller N) ÷ the difference " +
          "in N. Costs paid once (code compiled, pools grown) drop out.",
        "",
      );
      const rows = Object.keys(hi.med).filter((id) => lo.med[id]).map((id) => {
        const kib = marginalKiB(lo, hi, id);
        const base = baselineOf(id);
        const extra = base ? kib - marginalKiB(lo, hi, base) : NaN;
        return [label(id), kib.toFixed(2), Number.isFinite(extra) ? extra.toFixed(2) : "—"];
      });
      out.push(
        table(
          ["server", "KiB per further connection", "extra vs raw KiB"],
          rows,
        ),
        "",
      );
    }
  }

  if (r.sweep) {
    out.push("## Heartbeat sweep, in process", "");
    out.push(
      "N synthetic connections admitted through `endpoint.admit()` with fake sockets and an injected clock; " +
        "the captured sweep callback is timed directly. Then messages are fed through `session.received()` " +
        "while `setTimeout`/`clearTimeout`/`setInterval`/`clearInterval` are counted.",
      "",
    );
    out.push(
      table(
        [
          "runtime",
          "connections",
          "sweep, nobody due (median)",
          "sweep, all due (100 000 pings)",
          "messages fed",
          "ns per message",
          "timer calls during messages",
        ],
        Object.values(sw).map((v: Any) => [
          v.runtime,
          v.connections,
          `${v.quietSweepMsMedian.toFixed(3)} ms`,
          `${v.pingSweepMs.toFixed(2)} ms`,
          v.messages,
          v.feedNsPerMessage.toFixed(0),
          JSON.stringify(v.timerCallsDuringMessages),
        ]),
      ),
      "",
    );
  }

  if (r.overhead) {
    out.push("## What the library adds, in process", "");
    out.push(
      "`bench/overhead.ts`: N connections admitted through `endpoint.admit()` onto fake sockets (no network), " +
        "each joining one room. Heap per connection after a GC, against a raw registry (a `Set` of the same " +
        "sockets); a broadcast through `hub.broadcast` against a plain loop over the same sockets; the receive " +
        "path (`session.received` → decode → handler → `conn.sendJson`) against `JSON.parse` + " +
        "`JSON.stringify` + `send`. The fake `send` costs nothing, so these are the library's own nanoseconds; " +
        "a real `send` costs about a microsecond.",
      "",
      table(
        [
          "runtime",
          "connections",
          "heap B/conn, raw registry",
          "heap B/conn, endpoint",
          "ns/send, loop",
          "ns/send, hub.broadcast",
          "ns/msg, raw echo",
          "ns/msg, endpoint echo",
          "B, Set entry",
          "B, array slot",
          "B, Bun socket wrapper",
        ],
        Object.values(r.overhead).map((v: Any) => [
          v.runtime,
          v.connections,
          v.rawRegistryBytesPerConn.toFixed(0),
          v.endpointBytesPerConn.toFixed(0),
          v.loopNsPerSend.toFixed(1),
          v.hubNsPerSend.toFixed(1),
          v.rawEchoNsPerMessage.toFixed(0),
          v.ourEchoNsPerMessage.toFixed(0),
          Number.isFinite(v.setEntryBytes) ? v.setEntryBytes.toFixed(0) : "–",
          Number.isFinite(v.arraySlotBytes) ? v.arraySlotBytes.toFixed(0) : "–",
          Number.isFinite(v.bunWrapperBytes) ? v.bunWrapperBytes.toFixed(0) : "–",
        ]),
      ),
      "",
    );
  }

  if (r.churn) {
    out.push("## Churn", "");
    out.push(
      `One server per target; ${r.churn.cycles} measured cycles (after a warm-up cycle) of ${r.churn.perCycle} ` +
        `connections opened and closed, ${r.churn.parallel} at a time; RSS read after each cycle and a GC. ` +
        "Drift = RSS after the last cycle − RSS after the first." + churnBracketNote(r.churn),
      "",
      churnTable(r.churn),
      "",
    );
    const cal = churnCalibration(r.churn);
    if (cal) out.push(cal.paragraph, "");
    if (r.churnFixedYoung) {
      out.push(
        "The Deno servers again, each started with V8's young generation fixed at 8 MiB " +
          "(`--semi-space-growth-factor=1 --min-semi-space-size=8 --max-semi-space-size=8`). At the defaults V8 " +
          "grows the young generation in steps of several MiB under churn and keeps them, raw Deno included; " +
          "fixed, what is left is the slope a leak would show. The Deno drift target is read from this table." +
          churnBracketNote(r.churnFixedYoung),
        "",
        churnTable(r.churnFixedYoung),
        "",
      );
    }
  }

  if (r.churn && r.overhead) {
    for (const v of Object.values(r.overhead) as Any[]) {
      if (!v.churnHeapKiB) continue;
      out.push(
        `In process on ${v.runtime} (\`bench/overhead.ts\`): heap after each of ${v.churnHeapKiB.length} cycles ` +
          `of 5 000 connections admitted, opened, sent a message and closed: ` +
          `${
            v.churnHeapKiB.map((k: number) => k.toFixed(0)).join(", ")
          } KiB; open after: ${v.openAfterChurn}.`,
        "",
      );
    }
  }

  if (r.stall) {
    const st = r.stall;
    out.push("## Stalled peers", "");
    out.push(
      `${st.clients} clients, ${st.stalled} of which complete the upgrade and then never read (raw TCP, paused). ` +
        `The server broadcasts ${st.bytes} B frames for ${st.ms} ms, pacing itself on the live readers only. ` +
        "Stalled closed = connections the server closed during the run (steadysocket: 1013)." +
        (st.bracket
          ? " Each other target's window runs between two windows of ours on its runtime, and its ratios to " +
            "ours (by live rate and by CPU per live frame) are against the mean of those two; ours's row is " +
            "the mean of its windows in a repetition, so its counts can be fractional."
          : ""),
      "",
    );
    out.push(
      table(
        [
          "server",
          "live msg/s",
          "× raw",
          "live reach",
          "CPU µs/msg",
          "CPU/msg × raw",
          "stalled closed",
          "of which 1013",
          "RSS growth MiB",
          "peak RSS MiB",
        ],
        Object.entries(st.med as Med).map(([id, s]) => {
          const base = baselineOf(id);
          return [
            label(id),
            fmt(s.liveRate),
            base ? fx(rel(st, id, base, "liveRate")) : "—",
            s.liveReach.toFixed(3),
            Number.isFinite(s.cpuUsPerMsg) ? s.cpuUsPerMsg.toFixed(3) : "—",
            base && Number.isFinite(s.cpuUsPerMsg) ? fx(rel(st, id, base, "cpuUsPerMsg")) : "—",
            `${count(s.stalledClosed)} / ${count(s.stalledConnected)}`,
            count(s.closed1013),
            s.rssGrowthMiB.toFixed(1),
            s.peakMiB.toFixed(0),
          ];
        }),
      ),
      "",
    );
  }

  if (r.client) {
    out.push("## Client", "");
    const rows: string[][] = [];
    for (
      const [rt, v] of Object.entries(r.client.receive ?? {}) as [string, Any][]
    ) {
      for (const [kind, x] of Object.entries(v) as [string, Any][]) {
        rows.push([rt, kind, fmt(x.rate), fx(x.ratio)]);
      }
    }
    out.push(
      "Receive rate, from `bench/client_receive.ts` (a bare server floods small JSON envelopes; `raw` is the " +
        "runtime's `WebSocket` with `JSON.parse` per message; the clients alternate round by round, and " +
        "× raw is the median of the per-round ratios):",
      "",
      table(["runtime", "client", "msg/s", "× raw"], rows),
      "",
    );
    const rc2 = r.client.reconnect;
    if (rc2) {
      out.push(
        `Reconnect after a server restart (\`bench/client_reconnect.ts\`, Bun): ${rc2.clients} clients, the ` +
          `server shuts down (1001), stays down ${rc2.gapMs} ms and returns on the same port; ${rc2.restarts} ` +
          "restarts. Time from the server's return to each client's `open`:",
        "",
        table(["client", "p50 ms", "p99 ms", "downtime p50 ms"], [
          [
            "steadysocket `connect()`",
            fmt(rc2.oursAfterUpP50, 0),
            fmt(rc2.oursAfterUpP99, 0),
            fmt(rc2.oursDowntimeP50, 0),
          ],
          [
            "partysocket, defaults",
            fmt(rc2.partyAfterUpP50 ?? NaN, 0),
            fmt(rc2.partyAfterUpP99 ?? NaN, 0),
            fmt(rc2.partyDowntimeP50 ?? NaN, 0),
          ],
        ]),
        "",
      );
    }
  }

  if (r.bundle) {
    const b = r.bundle;
    out.push("## Bundle size", "");
    out.push(
      "Each bundled by esbuild the same way (`--bundle --minify --format=esm --platform=browser`), gzip level 9.",
      "",
      table(
        ["bundle", "minified bytes", "gzipped bytes", "÷ steadysocket"],
        Object.entries(b).map((
          [k, v]: [string, Any],
        ) => [
          k,
          v.minBytes,
          v.gzipBytes,
          fx(v.gzipBytes / b.steadysocket.gzipBytes),
        ]),
      ),
      "",
      `steadysocket adds ${
        b.steadysocket.gzipBytes - b.partysocket.gzipBytes
      } gzipped bytes to partysocket, ` +
        `which it includes.`,
      "",
    );
  }
  out.push(...sameProcessSection(r));
  out.push(...findings(r));
  return out.join("\n");
}

/**
 * The same-process comparison as a note: the baseline's CPU per delivered
 * frame ÷ ours over the sizes measured (≥ 1: we spend no more).
 */
function sameProcessNote(r: Any, rt: string, base: string, lead: string): string {
  const list = ((r.sameProcess?.[rt] ?? []) as Any[])
    .map((c) => [`${c.clients}×${c.bytes} B`, c.baselineOverOurs?.[base]] as [string, number])
    .filter(([, v]) => Number.isFinite(v));
  if (list.length === 0) return "";
  const low = list.reduce((a, b) => (b[1] < a[1] ? b : a));
  const high = Math.max(...list.map(([, v]) => v));
  return `${lead} ` +
    `${low[1].toFixed(2)}–${high.toFixed(2)}× (lowest at ${low[0]})`;
}

/** How a same-process note begins for a baseline served by its own server. */
function inOneProcess(name: string): string {
  return `in one process, alternating windows (bench/same_process.ts): ${name}'s CPU per frame ÷ ours`;
}

/** The same-process fan-out (bench/same_process.ts) as tables, one per runtime. */
function sameProcessSection(r: Any): string[] {
  const sp = r.sameProcess;
  if (!sp || (!sp.bun?.length && !sp.deno?.length)) return [];
  const out = [
    "## Fan-out in one process",
    "",
    "`bench/same_process.ts`: the raw runtime's servers and steadysocket's in one process, the same clients " +
    "(one process, on the other core) connected to each, saturated in alternating windows after a heartbeat " +
    "round, with the runner's flow-control rule. The figure is the process's CPU time per delivered frame " +
    "over a window (including writing the queues out). The servers share the heap, the JIT and the " +
    "machine's noise in the same seconds, so this measures what the library adds per frame more finely than " +
    "separate processes, whose windows differ by ±15 % between two copies of one server. Two server " +
    'instances in one process still differ, by up to ±10 % for their life; the "on our server" column ' +
    "writes to steadysocket's own server and sockets without the library's broadcast (Bun's `publish()` " +
    "to the room's topic, or a send loop over Deno's sockets), so it separates what the broadcast costs " +
    "from what the instance does. Ratios: the baseline's CPU per frame ÷ ours, per repetition, median " +
    "(≥ 1: we spend no more).",
    "",
  ];
  for (const rt of ["bun", "deno"]) {
    const list = (sp[rt] ?? []) as Any[];
    if (!list.length) continue;
    const bases = (rt === "bun" ? ["loop", "publish", "direct"] : ["raw", "raw0", "direct"])
      .filter((b) => b !== "direct" || list.some((c) => c.cpuUsPerFrame?.direct !== undefined));
    const names: Record<string, string> = {
      loop: "send loop",
      publish: "publish()",
      raw: "raw default",
      raw0: "raw idleTimeout 0",
      direct: rt === "bun" ? "publish() on our server" : "send loop on our server",
    };
    out.push(
      `### ${rt === "bun" ? "Bun" : "Deno"}`,
      "",
      table(
        [
          "clients × bytes",
          ...bases.map((b) => `${names[b]} µs/frame`),
          "steadysocket µs/frame",
          ...bases.map((b) => `${names[b]} ÷ ours`),
          "repetitions",
        ],
        list.map((c) => [
          `${c.clients} × ${c.bytes} B`,
          ...bases.map((b) => c.cpuUsPerFrame?.[b]?.toFixed(3) ?? "—"),
          c.cpuUsPerFrame?.steady?.toFixed(3) ?? "—",
          ...bases.map((b) => fx(c.baselineOverOurs?.[b])),
          `${c.reps} × ${c.ms} ms`,
        ]),
      ),
      "",
    );
  }
  return out;
}

/** Where the misses come from, with this run's own numbers. */
function findings(r: Any): string[] {
  const out = ["## Where the cost is", ""];
  const f32 = (r.fanout ?? []).find((f: Any) => f.clients === 32) ??
    r.fanout?.[0];
  if (f32) {
    const m = f32.med as Med;
    out.push(
      `- **Fan-out on Bun, against \`publish()\`.** In the ${fanName(f32)} fan-out, \`Bun.serve\`'s native ` +
        `\`publish()\` spent ${
          m["bun-publish"]?.cpuUsPerMsg?.toFixed(3)
        } µs of server CPU per delivered message, ` +
        `the JS send loop ${m["bun-loop"]?.cpuUsPerMsg?.toFixed(3)} µs and steadysocket ` +
        `${
          m["bun-steady"]?.cpuUsPerMsg?.toFixed(3)
        } µs. steadysocket writes through \`publish()\` too (one ` +
        "topic per room, subscribed from the room's first broadcast on); what it adds per broadcast is a check " +
        "of every target (state, and the buffered bytes once a target's budget is spent), made once per share " +
        "of each target's bound that the check reserves for the room (a sixteenth: hundreds of small " +
        "broadcasts), and the per-turn budget that keeps `delivered` exact. A JS send loop pays one " +
        "`ws.send()` call per recipient, which is why the loop and Hono's helper are slower.",
    );
  }
  const ob = r.overhead?.bun;
  const od = r.overhead?.deno;
  if (ob && od) {
    out.push(
      `- **Memory per connection.** In process, an admitted connection in one room holds ` +
        `${ob.endpointBytesPerConn.toFixed(0)} B of heap on Bun and ${
          od.endpointBytesPerConn.toFixed(0)
        } B on ` +
        `Deno, against ${ob.rawRegistryBytesPerConn.toFixed(0)} / ${
          od.rawRegistryBytesPerConn.toFixed(0)
        } B for ` +
        "a raw registry (a socket in a `Set`). The hub keeps each connection in two lists (everyone, and its " +
        "room) as arrays with the connection's place stored on it: an array slot costs " +
        `${ob.arraySlotBytes.toFixed(0)} B on Bun and ${
          od.arraySlotBytes.toFixed(0)
        } B on Deno, where a \`Set\` ` +
        `entry costs ${ob.setEntryBytes.toFixed(0)} / ${
          od.setEntryBytes.toFixed(0)
        } B. The Bun adapter adds ` +
        `its socket wrapper, which is also the socket's \`data\`: ${ob.bunWrapperBytes.toFixed(0)} B.`,
    );
    out.push(
      `- **Receive path.** In process, the endpoint's receive path (decode, rate bucket, heartbeat stamp, ` +
        `handler, \`sendJson\`) costs ${ob.ourEchoNsPerMessage.toFixed(0)} ns per message on Bun against ` +
        `${
          ob.rawEchoNsPerMessage.toFixed(0)
        } ns for bare \`JSON.parse\` + \`JSON.stringify\` + \`send\`, and ` +
        `${od.ourEchoNsPerMessage.toFixed(0)} against ${od.rawEchoNsPerMessage.toFixed(0)} ns on Deno: ` +
        "tens of ns on top of several µs of server CPU per network round trip, so echo differences larger " +
        "than a few percent in the tables above are the machine's noise (see the range over repetitions), " +
        "not the library.",
    );
  }
  out.push("");
  return out;
}

/** One line of steadysocket against each other server, by runtime. */
function comparisons(c: Any): string {
  const med = c.med as Med;
  const parts: string[] = [];
  for (const rt of ["bun", "deno"]) {
    const o = med[OURS[rt]]?.rate;
    if (!Number.isFinite(o)) continue;
    const vs = Object.keys(med)
      .filter((id) =>
        id !== OURS[rt] &&
        (TARGETS[id]?.runtime === rt || TARGETS[id]?.runtime === "node")
      )
      .map((id) => `${fx(rel(c, OURS[rt], id, "rate"))} ${label(id)}`);
    parts.push(
      `steadysocket on ${rt === "bun" ? "Bun" : "Deno"} = ${vs.join(", ")}.`,
    );
  }
  return parts.join("  \n");
}
