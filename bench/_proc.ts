// Processes of a benchmark run: servers pinned to one core, load workers to
// another, and what /proc says about them (CPU time, resident memory).

const ROOT = new URL("..", import.meta.url).pathname;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** `taskset -c N` where the machine has taskset and at least two cores, else nothing. */
export const pinning: { server: string[]; clients: string[]; note: string } = await (async () => {
  const cores = navigator.hardwareConcurrency ?? 1;
  try {
    const out = await new Deno.Command("taskset", {
      args: ["-V"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    if (out.success && cores >= 2) {
      return {
        server: ["taskset", "-c", "0"],
        clients: ["taskset", "-c", "1"],
        note: "server on core 0, clients on core 1 (taskset)",
      };
    }
  } catch {
    // no taskset
  }
  return {
    server: [],
    clients: [],
    note: "not pinned (taskset missing or one core)",
  };
})();

const CLK_TCK = 100;

/**
 * CPU seconds (user + system) used so far by a process, all threads: the sum
 * of /proc/<pid>/task/<tid>/schedstat (nanoseconds), or /proc/<pid>/stat
 * (clock ticks of 10 ms) where schedstat is missing.
 */
export function cpuSeconds(pid: number): number {
  try {
    let ns = 0;
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(
          Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/schedstat`)
            .split(" ")[0],
        );
      } catch {
        // the thread ended meanwhile
      }
    }
    if (ns > 0) return ns / 1e9;
  } catch {
    // no schedstat: fall back to clock ticks
  }
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat; 12 and 13 after the command name.
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/**
 * User and system CPU seconds used so far by a process, all threads, from
 * /proc/<pid>/stat (clock ticks of 10 ms): where {@linkcode cpuSeconds} says
 * how busy a process was, this says whether in its own code or in the kernel.
 */
export function cpuTimes(pid: number): { user: number; system: number } {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { user: Number(fields[11]) / CLK_TCK, system: Number(fields[12]) / CLK_TCK };
  } catch {
    return { user: NaN, system: NaN };
  }
}

/** A `Vm*` line of /proc/<pid>/status in KiB (VmRSS: resident, VmHWM: peak resident). */
export function vmKiB(pid: number, field: "VmRSS" | "VmHWM" | "RssFile"): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = status.match(new RegExp(`${field}:\\s+(\\d+) kB`));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** A benchmark server process. */
export class Server {
  readonly pid: number;
  readonly port: number;
  readonly #child: Deno.ChildProcess;
  readonly #log: string[];

  private constructor(child: Deno.ChildProcess, port: number, log: string[]) {
    this.#child = child;
    this.pid = child.pid;
    this.port = port;
    this.#log = log;
  }

  /** Starts `cmd` pinned to the server core and waits for its `LISTEN <port>` line. */
  static async start(
    cmd: string[],
    env: Record<string, string>,
    timeoutMs = 20_000,
  ): Promise<Server> {
    const argv = [...pinning.server, ...cmd];
    const child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      cwd: ROOT,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const log: string[] = [];
    const drain = async (
      stream: ReadableStream<Uint8Array>,
      onLine?: (l: string) => void,
    ) => {
      let buf = "";
      for await (const chunk of stream) {
        buf += decoder.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (log.length < 200) log.push(line);
          onLine?.(line);
        }
      }
    };
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`${cmd.join(" ")}: no LISTEN line in ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
      drain(child.stdout, (line) => {
        const m = line.match(/^LISTEN (\d+)/);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      drain(child.stderr);
      child.status.then((s) => {
        clearTimeout(timer);
        reject(
          new Error(
            `${cmd.join(" ")} exited with ${s.code}: ${log.slice(-10).join("\n")}`,
          ),
        );
      });
    });
    return new Server(child, port, log);
  }

  /** A `/ctl/*` request answered with JSON. */
  async ctl(path: string): Promise<Record<string, unknown>> {
    const res = await fetch(`http://127.0.0.1:${this.port}${path}`);
    const text = await res.text();
    try {
      return JSON.parse(text);
    } catch {
      // A handler that threw answers with the runtime's error page: say whose, and what it said.
      const said = [text.slice(0, 300).replace(/\s+/g, " "), ...this.#log.slice(-5)].join(" | ");
      throw new Error(`${path}: expected JSON, got HTTP ${res.status}: ${said}`);
    }
  }

  cpu(): number {
    return cpuSeconds(this.pid);
  }
  rssKiB(): number {
    return vmKiB(this.pid, "VmRSS");
  }
  /** The part of the resident set mapped from files: the runtime's own code paged in from its binary. */
  rssFileKiB(): number {
    return vmKiB(this.pid, "RssFile");
  }
  hwmKiB(): number {
    return vmKiB(this.pid, "VmHWM");
  }
  log(): string {
    return this.#log.join("\n");
  }

  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await this.#child.status;
  }
}

/** A load-generator process (bench/load/worker.ts on Bun), pinned to the client core. */
export class Worker {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  #next = 1;
  readonly pid: number;

  constructor(env: Record<string, string>) {
    const argv = [...pinning.clients, "bun", "bench/load/worker.ts"];
    this.#child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      cwd: ROOT,
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.pid = this.#child.pid;
    this.#writer = this.#child.stdin.getWriter();
    this.#read();
  }

  async #read() {
    let buf = "";
    for await (const chunk of this.#child.stdout) {
      buf += decoder.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line.startsWith("{")) continue;
        const msg = JSON.parse(line);
        const p = this.#pending.get(msg.id);
        if (!p) continue;
        this.#pending.delete(msg.id);
        if (msg.error) p.reject(new Error(msg.error));
        else p.resolve(msg.result);
      }
    }
    for (const p of this.#pending.values()) {
      p.reject(new Error("load worker exited"));
    }
  }

  // deno-lint-ignore no-explicit-any
  request(cmd: Record<string, unknown>): Promise<any> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#writer.write(encoder.encode(JSON.stringify({ ...cmd, id }) + "\n"))
        .catch(reject);
    });
  }

  cpu(): number {
    return cpuSeconds(this.pid);
  }

  async stop(): Promise<void> {
    try {
      await this.request({ op: "exit" });
    } catch {
      // gone already
    }
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // exited
    }
    await this.#child.status;
  }
}

/** Runs a command to completion and returns its stdout. */
export async function run(
  cmd: string[],
  env: Record<string, string> = {},
): Promise<string> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd: ROOT,
    env,
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `${cmd.join(" ")} failed (${out.code}): ${decoder.decode(out.stderr).slice(-2000)}`,
    );
  }
  return decoder.decode(out.stdout);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export { ROOT };
