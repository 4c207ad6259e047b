import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import { parseOptions, UsageError, wholeArg } from "../../bench/_args.ts";

const SPEC = { flags: ["full", "bracket"], values: ["reps", "only", "settle"] };
const refused = (argv: string[], read: (o: ReturnType<typeof parseOptions>) => unknown = () => {}) => {
  try {
    read(parseOptions(argv, SPEC));
  } catch (e) {
    assert.ok(e instanceof UsageError, `expected a UsageError, got ${e}`);
    return e.message;
  }
  assert.fail(`${JSON.stringify(argv)} was taken`);
};

test("parseOptions: flags, values and their defaults", () => {
  const o = parseOptions(["--full", "--reps=3", "--only=fanout,echo"], SPEC);
  assert.equal(o.has("full"), true);
  assert.equal(o.has("bracket"), false);
  assert.equal(o.int("reps", 7), 3);
  assert.equal(o.int("settle", 300, 0), 300);
  assert.deepEqual(o.list("only", ["fanout", "echo", "idle"]), ["fanout", "echo"]);
  assert.equal(o.text("settle"), undefined);
  assert.equal(parseOptions(["--settle=0"], SPEC).int("settle", 300, 0), 0);
  // A value may hold "=" (only the first one splits).
  assert.equal(parseOptions(["--only=a=b"], SPEC).text("only"), "a=b");
});

test("parseOptions: an option the script does not take is refused by name, with what it takes", () => {
  const message = refused(["--ful"]);
  assert.match(message, /unknown option --ful/);
  assert.match(message, /--full, --bracket, --reps=…, --only=…, --settle=…/);
  assert.match(refused(["--count=3"]), /unknown option --count/);
  assert.match(refused(["full"]), /expected options of the form --name or --name=value .*got "full"/);
  assert.match(refused(["-r", "3"]), /got "-r"/);
});

test("parseOptions: a flag with a value, a value without one, or a value twice is refused", () => {
  assert.match(refused(["--full=yes"]), /--full is a flag and takes no value, got "--full=yes"/);
  assert.match(refused(["--reps"]), /--reps expects a value \(--reps=…\), got none/);
  assert.match(refused(["--reps=3", "--reps=4"]), /--reps given twice \("3" and "4"\)/);
});

test("parseOptions: a number must be whole and at least its minimum", () => {
  for (const bad of ["three", "", " ", " 3", "2.5", "0", "-1", "1e3", "0x10", "99999999999999999999"]) {
    const message = refused([`--reps=${bad}`], (o) => o.int("reps", 7));
    assert.equal(message, `--reps expects a whole number of at least 1, got "${bad}"`);
  }
  assert.match(refused(["--settle=-5"], (o) => o.int("settle", 300, 0)), /at least 0, got "-5"/);
});

test("parseOptions: a list names the items it does not know, and what it knows", () => {
  const message = refused(["--only=fanout,fanut,,echo"], (o) => o.list("only", ["fanout", "echo"]));
  assert.equal(
    message,
    `--only expects a comma-separated list of fanout, echo, got "fanut", "" in "fanout,fanut,,echo"`,
  );
  // Without a set of allowed items, only empty ones are refused.
  assert.deepEqual(parseOptions(["--only=x,y"], SPEC).list("only"), ["x", "y"]);
  assert.match(refused(["--only=x,"], (o) => o.list("only")), /got "" in "x,"/);
});

test("parseOptions: a script's own fail() receives every message instead of a throw", () => {
  const seen: string[] = [];
  const fail = (message: string): never => {
    seen.push(message);
    throw new Error("stop");
  };
  assert.throws(() => parseOptions(["--nope"], SPEC, fail), /stop/);
  assert.deepEqual(seen, [
    "unknown option --nope: expected one of --full, --bracket, --reps=…, --only=…, --settle=…",
  ]);
  // A refusal of the script's own (two flags that exclude each other) goes the same way.
  assert.throws(() => parseOptions(["--full"], SPEC, fail).fail("--full and --bracket: one of them"), /stop/);
  assert.equal(seen[1], "--full and --bracket: one of them");
});

test("wholeArg: a positional number, its fallback, and a refusal that names it", () => {
  assert.equal(wholeArg(["5000", "3"], 0, "connections", 100_000), 5000);
  assert.equal(wholeArg(["5000", "3"], 1, "sweeps", 20), 3);
  assert.equal(wholeArg(["5000"], 1, "sweeps", 20), 20);
  assert.equal(wholeArg(["0"], 0, "ms", 300, 0), 0);
  for (const bad of ["abc", "", "1.5", "0", "-2"]) {
    assert.throws(
      () => wholeArg(["1", bad], 1, "sweeps", 20),
      (e: unknown) =>
        e instanceof UsageError &&
        e.message === `sweeps (argument 2) expects a whole number of at least 1, got "${bad}"`,
    );
  }
});
