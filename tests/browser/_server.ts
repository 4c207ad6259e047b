/**
 * The demo server as a child process: started on a given port, killed,
 * started again on the same port, stopped with a signal.
 */

const ROOT = new URL("../../", import.meta.url);

/** Which runtime serves the demo. */
export type Runtime = "deno" | "bun";

/** A free loopback port: bound, read, released. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function bunPath(): string {
  const local = new URL("tools/node_modules/.bin/bun", ROOT).pathname;
  try {
    Deno.statSync(local);
    return local;
  } catch {
    return "bun";
  }
}

/** A running demo server. */
export class DemoServer {
  readonly url: string;
  readonly output: string[] = [];
  #child: Deno.ChildProcess;
  #status: Promise<Deno.CommandStatus>;
  #pumps: Promise<void>[];

  private constructor(readonly runtime: Runtime, readonly port: number, child: Deno.ChildProcess) {
    this.url = `http://127.0.0.1:${port}`;
    this.#child = child;
    this.#status = child.status;
    this.#pumps = [];
  }

  /**
   * Starts the demo on `port` and resolves once it printed its listening
   * line; rejects with its output if it exits first or `deadlineMs` passes.
   */
  static async start(
    runtime: Runtime,
    port: number,
    env: Record<string, string> = {},
    deadlineMs = 15_000,
  ): Promise<DemoServer> {
    const [cmd, args] = runtime === "deno"
      ? [Deno.execPath(), ["run", "-A", "examples/demo/deno.ts"]]
      : [bunPath(), ["examples/demo/bun.ts"]];
    const child = new Deno.Command(cmd, {
      args,
      cwd: ROOT.pathname,
      env: { HOST: "127.0.0.1", PORT: String(port), STEADY_LOG_LEVEL: "warn", NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const server = new DemoServer(runtime, port, child);
    const listening = Promise.withResolvers<void>();
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      const decoder = new TextDecoder();
      let buffered = "";
      for await (const chunk of stream) {
        buffered += decoder.decode(chunk, { stream: true });
        const lines = buffered.split("\n");
        buffered = lines.pop()!;
        for (const line of lines) {
          server.output.push(line);
          if (line.includes("listening on")) listening.resolve();
        }
      }
      if (buffered) server.output.push(buffered);
    };
    server.#pumps = [pump(child.stdout), pump(child.stderr)];
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        listening.promise,
        server.#status.then((s) => {
          throw new Error(`expected the ${runtime} demo to listen on ${port}, it exited with ${s.code}`);
        }),
        new Promise((_, reject) =>
          timer = setTimeout(
            () => reject(new Error(`expected the ${runtime} demo to listen within ${deadlineMs} ms`)),
            deadlineMs,
          )
        ),
      ]);
    } catch (error) {
      await server.kill();
      throw new Error(`${(error as Error).message}\n${server.output.join("\n")}`);
    } finally {
      clearTimeout(timer);
    }
    return server;
  }

  /** Sends a signal and waits for the exit (up to `deadlineMs`, then SIGKILL). */
  async stop(signal: Deno.Signal = "SIGTERM", deadlineMs = 10_000): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill(signal);
    } catch { /* already gone */ }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        try {
          this.#child.kill("SIGKILL");
        } catch { /* already gone */ }
        resolve();
      }, deadlineMs);
    });
    await Promise.race([this.#status, forced]);
    clearTimeout(timer);
    const status = await this.#status;
    await Promise.all(this.#pumps);
    return status;
  }

  /** Kills the process abruptly: no close frame reaches any client. */
  kill(): Promise<Deno.CommandStatus> {
    return this.stop("SIGKILL");
  }
}
