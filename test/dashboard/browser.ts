/**
 * The dashboard page in a real browser: headless Chromium (Debian's `chromium` package)
 * driven through playwright-core, against a real service process. One scenario, run
 * against the emulated engine (test/dashboard/dashboard.test.ts) and against the win32
 * engine under Wine (test/win32/dashboard.test.ts):
 *
 * 1. open /dashboard with tokens on: the page asks for a token, keeps it for the tab;
 * 2. a holding work submitted through the API shows as the mutex's holder within 2 s;
 * 3. signalled, the mutex shows free within 2 s;
 * 4. the service restarts on the same port: the indicator shows the disconnect, then
 *    recovers, and the page shows the new process (its boot, none of the old mutexes).
 *
 * Screenshots (1280×800 and phone width) go to artifacts/ (git-ignored), kept by CI.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * The browser: CHROMIUM_PATH, else Debian's chromium, else (on a Windows host or
 * runner) the Chrome or Edge that Windows images carry; Playwright drives any of them.
 */
const BROWSER_CANDIDATES = process.platform === 'win32'
  ? [
    `${process.env['ProgramFiles'] ?? 'C:\\Program Files'}\\Google\\Chrome\\Application\\chrome.exe`,
    `${process.env['ProgramFiles(x86)'] ?? 'C:\\Program Files (x86)'}\\Microsoft\\Edge\\Application\\msedge.exe`,
  ]
  : ['/usr/bin/chromium'];
export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? BROWSER_CANDIDATES.find((path) => existsSync(path)) ?? BROWSER_CANDIDATES[0]!;
export const ARTIFACTS_DIR = fileURLToPath(new URL('../../../artifacts/', import.meta.url));

/** Why the browser suite cannot run here, or undefined. */
export function browserUnavailable(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing (apt-get install chromium; on Windows, Chrome or Edge; or set CHROMIUM_PATH)`;
}

/** The bound for a change to show on the page (docs: issue 13). */
const SHOWN_WITHIN_MS = 2000;
/** A stop and a restart take what the machine gives them; only the page's reaction is bounded above. */
const RESTART_MS = 120_000;

export interface RunningService { readonly baseUrl: string; stop(): Promise<number | null> }
export type StartService = (env: Record<string, string>) => Promise<RunningService>;

interface Status { boot: string }

async function api<T>(baseUrl: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** The text of a mutex row's cell, or null while the row is not there. */
async function mutexCell(page: Page, name: string, field: 'state' | 'holder' | 'waiting'): Promise<string | null> {
  // A JSON string is a CSS string too: the backslash of Local\x comes out escaped.
  const cell = page.locator(`#mutexes tr[data-mutex=${JSON.stringify(name)}] [data-field="${field}"]`);
  return (await cell.count()) === 1 ? cell.textContent() : null;
}

async function shownWithin(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) assert.fail(`the page did not show ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function dashboardScenario(start: StartService, label: string): Promise<void> {
  const token = `dashboard-test-token-${label}-0123456789`;
  // No load shedding: a loaded machine must not turn the scenario's requests into 503s.
  const env = { API_TOKENS: token, MAX_EVENT_LOOP_DELAY_MS: '0' };
  let service: RunningService | null = await start(env);
  const port = new URL(service.baseUrl).port;
  const mutex = `Local\\dashboard-${label}-${process.pid}`;
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const requestedUrls: string[] = [];
    const pageErrors: string[] = [];
    page.on('request', (req) => requestedUrls.push(req.url()));
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => { if (msg.type() === 'error' && !/Failed to load resource|ERR_CONNECTION_REFUSED|network error/i.test(msg.text())) pageErrors.push(msg.text()); });

    // 1. The page loads without a token, then asks for one.
    await page.goto(`${service.baseUrl}/dashboard`);
    await page.getByLabel('Bearer token').fill(token);
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 30_000 });
    const boot = (await api<Status>(service.baseUrl, token, 'GET', '/v1/status')).body.boot;
    assert.match(await page.textContent('#service') ?? '', new RegExp(boot));

    // 2. A holding work shows as the holder, without a reload.
    const submitted = await api<{ id: string }>(service.baseUrl, token, 'POST', '/v1/work', { mutex, untilSignaled: true, label: 'browser test' });
    assert.equal(submitted.status, 202);
    const workId = submitted.body.id;
    await shownWithin(`${mutex} held by ${workId}`,
      async () => (await mutexCell(page, mutex, 'state')) === 'held' && (await mutexCell(page, mutex, 'holder')) === workId, SHOWN_WITHIN_MS);
    // A second work waits behind it: the screenshot shows a held mutex with a waiter.
    const waiter = await api<{ id: string }>(service.baseUrl, token, 'POST', '/v1/work', { mutex, holdMs: 10, label: 'waiter' });
    assert.equal(waiter.status, 202);
    await shownWithin('the waiting work in the works table', async () => (await page.locator(`#works tr[data-work="${waiter.body.id}"]`).count()) === 1, SHOWN_WITHIN_MS);
    await shownWithin(`one work waiting for ${mutex}`, async () => (await mutexCell(page, mutex, 'waiting')) === '1', SHOWN_WITHIN_MS);
    await page.locator(`#works tr[data-work="${workId}"] button`).click();
    await page.waitForSelector('#timeline:not([hidden])');
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS_DIR, `dashboard-${label}-1280x800.png`) });

    // The theme follows the system: dark colours when the system asks for them.
    const background = () => page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
    const light = await background();
    await page.emulateMedia({ colorScheme: 'dark' });
    assert.notEqual(await background(), light, 'a dark background in dark mode');
    await page.screenshot({ path: join(ARTIFACTS_DIR, `dashboard-${label}-1280x800-dark.png`) });
    await page.emulateMedia({ colorScheme: 'light' });

    // 3. Signalled: free again (the waiter takes it and releases it at once).
    assert.equal((await api(service.baseUrl, token, 'POST', `/v1/work/${workId}/signal`)).status, 202);
    const waiterDone = await api<{ state: string }>(service.baseUrl, token, 'GET', `/v1/work/${waiter.body.id}?wait=terminal&timeoutMs=30000`);
    assert.equal(waiterDone.body.state, 'released');
    await shownWithin(`${mutex} free`,
      async () => (await mutexCell(page, mutex, 'state')) === 'free' && (await mutexCell(page, mutex, 'holder')) === '—', SHOWN_WITHIN_MS);

    // Phone width: nothing wider than the screen but the tables' own scroll areas.
    await page.setViewportSize({ width: 390, height: 844 });
    // (Strings, not functions: they run in the page, and this project compiles without DOM types.)
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than a phone screen`);
    await page.screenshot({ path: join(ARTIFACTS_DIR, `dashboard-${label}-phone.png`), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });

    // 4. Restart: the indicator shows the disconnect, then the new process.
    const code = await service.stop();
    service = null;
    assert.equal(code, 0, 'the service drained and exited cleanly');
    await page.waitForSelector('#connection[data-state="disconnected"]', { timeout: RESTART_MS });
    service = await start({ ...env, PORT: port });
    const newBoot = (await api<Status>(service.baseUrl, token, 'GET', '/v1/status')).body.boot;
    assert.notEqual(newBoot, boot);
    await page.waitForSelector('#connection[data-state="live"]', { timeout: RESTART_MS });
    await shownWithin('the new process', async () => (await page.textContent('#service') ?? '').includes(newBoot), SHOWN_WITHIN_MS);
    // The token was asked for once: the tab kept it across the reconnect.
    assert.equal(await page.locator('#token-form').isHidden(), true);

    // Labels, and the token never in a URL.
    const unlabelled = await page.evaluate<string[]>("[...document.querySelectorAll('input, select')].filter((el) => el.labels.length === 0).map((el) => el.id)");
    assert.deepEqual(unlabelled, []);
    assert.deepEqual(requestedUrls.filter((url) => url.includes(token)), []);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser?.close();
    if (service !== null) await service.stop();
  }
}
