/**
 * Headless Chromium for the HTML report tests: Debian's chromium-headless-shell driven by
 * playwright-core, every request but file: aborted, console errors and page errors collected.
 * When the browser is missing, `skipReason` says why and the tests skip (.ci/run installs it).
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.DEPLOY_LOOP_CHROMIUM ?? '/usr/bin/chromium-headless-shell';

export const browserSkipReason: string | undefined = existsSync(CHROMIUM)
  ? undefined
  : `${CHROMIUM} not found: install Debian's chromium-headless-shell (apt-get install -y chromium-headless-shell; .ci/run does) or set DEPLOY_LOOP_CHROMIUM`;

export function launch(): Promise<Browser> {
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
}

export interface OfflinePage {
  page: Page;
  /** Console messages of type error, and uncaught page errors. */
  errors: string[];
  /** Requests the route refused: anything not file:. */
  blocked: string[];
}

/** Opens a file from disk with the network blocked; resolves once the report's script has finished. */
export async function openOffline(browser: Browser, file: string, viewport = { width: 1280, height: 900 }): Promise<OfflinePage & { loadMs: number }> {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  const blocked: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:')) return route.continue();
    blocked.push(url);
    return route.abort();
  });
  const t0 = Date.now();
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
  return { page, errors, blocked, loadMs: Date.now() - t0 };
}

/**
 * Pixels of a chart's canvas close to a colour (a series' stroke; antialiasing blends edges), and
 * pixels that are not transparent at all: a line that drew shows its own colour, not just axes.
 */
export async function canvasPixels(page: Page, chartId: string, rgb: [number, number, number]): Promise<{ painted: number; colour: number }> {
  // A string, not a function: the project compiles without the DOM library, and this runs in the page.
  return page.evaluate(`(() => {
    const canvas = document.querySelector('#${chartId} canvas');
    if (!canvas) return { painted: -1, colour: -1 };
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    const [r, g, b] = ${JSON.stringify(rgb)};
    let painted = 0, colour = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] === 0) continue;
      painted++;
      if (Math.abs(data[i] - r) < 24 && Math.abs(data[i + 1] - g) < 24 && Math.abs(data[i + 2] - b) < 24) colour++;
    }
    return { painted, colour };
  })()`);
}
