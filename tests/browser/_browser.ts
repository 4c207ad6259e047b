/**
 * Debian's Chromium driven by playwright-core, with the flags that keep it
 * quiet and quick in CI. `launch()` gives every run a fresh temporary profile.
 */

import { type Browser, chromium } from "playwright-core";

/** Where the browser is expected: Debian's `chromium` package. */
export const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Launches Chromium headless; throws with the fix when it is not installed. */
export async function launchChromium(): Promise<Browser> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `expected Chromium at ${CHROMIUM}, found nothing: run scripts/ensure_chromium.sh (apt-get install chromium)`,
    );
  }
  return await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true, timeout: 30_000 });
}

/**
 * Counts every WebSocket the page constructs, in `window.__sockets`: a client
 * that spins while offline shows up here whatever its own counters say.
 */
export const COUNT_SOCKETS = `(() => {
  const Native = window.WebSocket;
  window.__sockets = 0;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      window.__sockets += 1;
    }
  };
})();`;
