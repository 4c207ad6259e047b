/**
 * The command line of a bench script: bare `--flag`s and `--name=value` options, checked against what the
 * script takes. A run takes minutes to an hour, so a mistyped option must stop it at once with a message that
 * says what was expected and what was given, not run something else (an unknown `--ful` would run the quick
 * set; `--reps=three` no repetitions at all).
 *
 * @module
 */

/** What a script takes: its bare flags and the names of its `--name=value` options, without the dashes. */
export interface OptionsSpec {
  flags?: readonly string[];
  values?: readonly string[];
}

/** A command line the script does not take. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The parsed command line; every accessor checks its value and reports a bad one through `fail`. */
export interface Options {
  /** Whether the bare flag was given. */
  has(flag: string): boolean;
  /** The text of `--name=value`, or undefined when it was not given. */
  text(name: string): string | undefined;
  /** `--name=N` as a whole number of at least `min` (default 1), or `fallback` when not given. */
  int(name: string, fallback: number, min?: number): number;
  /** `--name=a,b,c`, each item one of `allowed` when that is given; undefined when not given. */
  list(name: string, allowed?: readonly string[]): string[] | undefined;
  /** Reports a command line the script refuses on its own terms (two options that exclude each other). */
  fail(message: string): never;
}

/**
 * Parses `argv` against `spec`. `fail` receives the message of anything the script does not take (an unknown
 * option, a flag given a value, an option without one, a value of the wrong kind); by default it throws a
 * {@linkcode UsageError}.
 *
 * @example
 * ```ts
 * const opts = parseOptions(["--full", "--reps=3"], { flags: ["full"], values: ["reps"] });
 * opts.has("full"); // true
 * opts.int("reps", 7); // 3
 * ```
 */
export function parseOptions(
  argv: readonly string[],
  spec: OptionsSpec,
  fail: (message: string) => never = (message) => {
    throw new UsageError(message);
  },
): Options {
  const flags = new Set(spec.flags ?? []);
  const names = new Set(spec.values ?? []);
  const takes = () =>
    [...[...flags].map((f) => `--${f}`), ...[...names].map((n) => `--${n}=…`)].join(", ") || "no options";
  const given = new Set<string>();
  const values = new Map<string, string>();
  for (const arg of argv) {
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(arg);
    if (!m) fail(`expected options of the form --name or --name=value (${takes()}), got "${arg}"`);
    const [, name, value] = m;
    if (value === undefined) {
      if (names.has(name)) fail(`--${name} expects a value (--${name}=…), got none`);
      if (!flags.has(name)) fail(`unknown option --${name}: expected one of ${takes()}`);
      given.add(name);
    } else {
      if (flags.has(name)) fail(`--${name} is a flag and takes no value, got "${arg}"`);
      if (!names.has(name)) fail(`unknown option --${name}: expected one of ${takes()}`);
      if (values.has(name)) fail(`--${name} given twice ("${values.get(name)}" and "${value}")`);
      values.set(name, value);
    }
  }
  return {
    has: (flag) => given.has(flag),
    text: (name) => values.get(name),
    int(name, fallback, min = 1) {
      const raw = values.get(name);
      if (raw === undefined) return fallback;
      return whole(raw, min) ?? fail(`--${name} expects a whole number of at least ${min}, got "${raw}"`);
    },
    list(name, allowed) {
      const raw = values.get(name);
      if (raw === undefined) return undefined;
      const items = raw.split(",");
      const bad = items.filter((item) => item === "" || (allowed && !allowed.includes(item)));
      if (bad.length) {
        fail(
          `--${name} expects a comma-separated list${allowed ? ` of ${allowed.join(", ")}` : ""}, got ` +
            bad.map((b) => `"${b}"`).join(", ") + ` in "${raw}"`,
        );
      }
      return items;
    },
    fail,
  };
}

/**
 * {@linkcode parseOptions} over a Deno script's own arguments: a bad command line prints its message and
 * `usage`, and exits with status 2.
 *
 * @example
 * ```ts
 * const opts = cliOptions({ values: ["clients"] }, "deno run -A bench/ack_mode.ts [--clients=N]");
 * const clients = opts.int("clients", 1000);
 * ```
 */
export function cliOptions(spec: OptionsSpec, usage: string): Options {
  return parseOptions(Deno.args, spec, (message) => {
    console.error(`${message}\nusage: ${usage}`);
    Deno.exit(2);
  });
}

/**
 * The `index`-th positional argument as a whole number of at least `min` (default 1), or `fallback` when it
 * is absent; for the in-process scripts, which run on Deno and Bun and take plain numbers in order. A value of
 * the wrong kind throws a {@linkcode UsageError} that names the argument by `name`.
 *
 * @example
 * ```ts
 * const connections = wholeArg(["5000"], 0, "connections", 100_000); // 5000
 * ```
 */
export function wholeArg(
  argv: readonly string[],
  index: number,
  name: string,
  fallback: number,
  min = 1,
): number {
  const raw = argv[index];
  if (raw === undefined) return fallback;
  const n = whole(raw, min);
  if (n === undefined) {
    throw new UsageError(
      `${name} (argument ${index + 1}) expects a whole number of at least ${min}, got "${raw}"`,
    );
  }
  return n;
}

/**
 * `raw` as a whole number of at least `min`, in decimal digits (`Number` alone takes "", "0x10" and "1e3"), or
 * undefined.
 */
function whole(raw: string, min: number): number | undefined {
  const n = Number(raw);
  return /^-?\d+$/.test(raw) && Number.isSafeInteger(n) && n >= min ? n : undefined;
}
