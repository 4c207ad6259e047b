/**
 * The runtime's own `WebSocket` as a test client, opened and closed with a
 * promise: for suites that need a plain peer next to the one under test.
 *
 * @example
 * ```ts ignore
 * const ws = await openClient(server.url);
 * ws.send('{"type":"hello"}');
 * await closeClient(ws);
 * ```
 *
 * @module
 */

/** Resolves with the socket once it is open; rejects if the server does not accept it. */
export function openClient(url: string, protocols?: string | string[]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(`expected ${url} to accept a WebSocket`));
  });
}

/** Closes the socket and resolves once its `close` event fired (at once if it is closed already). */
export async function closeClient(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return;
  await new Promise<void>((resolve) => {
    ws.addEventListener("close", () => resolve());
    ws.close();
  });
}
