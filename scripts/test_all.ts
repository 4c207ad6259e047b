/**
 * Runs every suite: the shared suite on Deno (sanitizers on) and on Bun, then
 * the browser end-to-end test, and ends with one line `N passed, M failed`
 * totalling all of them. Exits non-zero if any suite failed or ran nothing.
 *
 * Usage: `deno task test` (or `npm test`). `--skip-browser` leaves the browser out.
 */

interface Suite {
  name: string;
  cmd: string[];
  parse(output: string): { passed: number; failed: number } | undefined;
}

// deno-lint-ignore no-control-regex
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

function denoSummary(out: string) {
  const m = [
    ...stripAnsi(out).matchAll(/^(?:ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed/gm),
  ]
    .at(-1);
  return m ? { passed: Number(m[1]), failed: Number(m[3]) } : undefined;
}

function bunSummary(out: string) {
  const text = stripAnsi(out);
  const pass = [...text.matchAll(/^\s*(\d+) pass$/gm)].at(-1);
  const fail = [...text.matchAll(/^\s*(\d+) fail$/gm)].at(-1);
  return pass ? { passed: Number(pass[1]), failed: fail ? Number(fail[1]) : 0 } : undefined;
}

const skipBrowser = Deno.args.includes("--skip-browser");
const suites: Suite[] = [
  { name: "deno", cmd: ["deno", "test", "-A", "--v8-flags=--expose-gc", "tests/"], parse: denoSummary },
  { name: "bun", cmd: ["bun", "test", "--timeout", "60000", "tests/"], parse: bunSummary },
];
if (!skipBrowser) {
  try {
    await Deno.stat("tests/browser/run.ts");
    suites.push({ name: "browser", cmd: ["deno", "run", "-A", "tests/browser/run.ts"], parse: denoSummary });
  } catch { /* no browser suite yet */ }
}

let passed = 0;
let failed = 0;
const lines: string[] = [];
for (const suite of suites) {
  console.log(`\n=== ${suite.name}: ${suite.cmd.join(" ")}`);
  const child = new Deno.Command(suite.cmd[0], {
    args: suite.cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const decoder = new TextDecoder();
  let output = "";
  const pump = async (stream: ReadableStream<Uint8Array>, sink: (b: Uint8Array) => unknown) => {
    for await (const chunk of stream) {
      output += decoder.decode(chunk, { stream: true });
      await sink(chunk);
    }
  };
  const [status] = await Promise.all([
    child.status,
    pump(child.stdout, (b) => Deno.stdout.write(b)),
    pump(child.stderr, (b) => Deno.stderr.write(b)),
  ]);
  const summary = suite.parse(output);
  if (!summary) {
    failed += 1;
    lines.push(`${suite.name}: no summary found (exit ${status.code}), counted as 1 failure`);
    continue;
  }
  let suiteFailed = summary.failed;
  if (!status.success && suiteFailed === 0) suiteFailed = 1; // a crash after the summary still fails
  passed += summary.passed;
  failed += suiteFailed;
  lines.push(`${suite.name}: ${summary.passed} passed, ${suiteFailed} failed (exit ${status.code})`);
}

console.log("\n" + lines.join("\n"));
console.log(`${passed} passed, ${failed} failed`);
Deno.exit(failed === 0 && passed > 0 ? 0 : 1);
