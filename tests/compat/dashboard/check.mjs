// Loads the dashboard in Debian's headless Chromium (playwright-core) and reports what the
// page shows, as JSON on stdout:
//   node check.mjs <url> <tab> <screenshot.png> [min_points] [period_seconds]
// It waits until every chart of the tab has at least min_points points (default 2; 0: do not
// wait for charts), then saves a full-page screenshot. Reports the first paint time, the
// charts' data, the rows of the function and mapping tables, and every console error or
// page error.
import { chromium } from 'playwright-core';

const [url, tab, shot, minArg, periodArg] = process.argv.slice(2);
const minPoints = minArg === undefined ? 2 : Number(minArg);
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
const errors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1100 } });
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
  page.on('pageerror', (e) => errors.push('pageerror: ' + e.message));
  const t0 = Date.now();
  await page.goto(`${url}/#${tab}`, { waitUntil: 'load' });
  // First paint with content: the state has been fetched and rendered once.
  await page.waitForFunction(() => window.__freshet && window.__freshet.state !== null && window.__freshet.polls >= 1, null, { timeout: 15000 });
  const loadedMs = Date.now() - t0;
  const paint = await page.evaluate(() => {
    const p = performance.getEntriesByName('first-contentful-paint')[0];
    return p ? p.startTime : null;
  });
  if (periodArg) await page.selectOption('#period', periodArg);
  if (minPoints > 0) {
    // A chart fetched before the period switch still holds the old period's points: wait for
    // data at the period asked for, not just any data.
    await page.waitForFunction(([n, period]) => {
      const cs = window.__freshet.charts.filter((c) => c.el.isConnected && c.el.offsetParent !== null);
      return cs.length > 0 && cs.every((c) => c.data && c.data.points && c.data.points.length >= n &&
                                             (period === null || c.data.period === period));
    }, [minPoints, periodArg ? Number(periodArg) : null], { timeout: 30000 });
  }
  const charts = await page.evaluate(() => window.__freshet.charts
    .filter((c) => c.el.isConnected && c.el.offsetParent !== null)
    .map((c) => ({ ns: c.spec.ns, name: c.spec.name, dims: c.spec.dims, stat: c.stat(), period: c.data && c.data.period, end: c.data && c.data.end,
                   points: c.data ? c.data.points : [], canvasPoints: Number(c.canvas.dataset.points || 0) })));
  const text = await page.evaluate(() => document.body.innerText);
  // The rows of the visible function and mapping tables, cell by cell (data-k).
  const rows = await page.evaluate(() => [...document.querySelectorAll('tr[data-uuid], tr[data-function]')]
    .filter((r) => r.offsetParent !== null)
    .map((r) => ({ uuid: r.dataset.uuid, function: r.dataset.function,
                   cells: Object.fromEntries([...r.querySelectorAll('[data-k]')].map((c) => [c.dataset.k, c.textContent.trim()])) })));
  await page.screenshot({ path: shot, fullPage: true });
  console.log(JSON.stringify({ firstContentfulPaintMs: paint, loadedMs, charts, rows, errors, textSample: text.slice(0, 4000) }));
} finally {
  await browser.close();
}
