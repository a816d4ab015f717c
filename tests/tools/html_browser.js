// html_browser.js — `poolalloc-prof html`'s page in a real browser (Debian's
// chromium, driven by playwright-core), opened from file:// with the network
// off: no script or console errors; the memory chart has a line per series
// over every point of the profile, the peak marked, values on hover; each
// flame graph renders in its frame with frames whose total is the `fold`
// total of its weight; the switch shows one graph at a time; the top table
// and the report are the tool's own text.
//   node tests/tools/html_browser.js PAGE.html EXPECT.json [SCREENSHOT.png]
// EXPECT.json: {"points": N, "peak": true|false, "flames": {"alloc": TOTAL, ...},
//               "top": "first line of top", "report": "first line of report"}
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

const { CHROMIUM_ARGS, loadPlaywright } = require('./browser');

let passed = 0, failed = 0;
function check(ok, what, detail) {
  if (ok) { passed++; console.log('PASS  ' + what); } else { failed++; console.log('FAIL  ' + what + (detail ? ': ' + detail : '')); }
}

async function main() {
  const [page_file, expect_file, shot] = process.argv.slice(2);
  if (!page_file || !expect_file) {
    console.error('usage: node tests/tools/html_browser.js PAGE.html EXPECT.json [SCREENSHOT.png]');
    process.exit(2);
  }
  const want = JSON.parse(fs.readFileSync(expect_file, 'utf8'));
  const { chromium } = loadPlaywright();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'html-test-'));
  const ctx = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, offline: true,
    viewport: { width: 1100, height: 900 },
  });
  try {
    const page = await ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push('page error: ' + e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push('console error: ' + m.text()); });
    page.on('request', (r) => { if (!/^(file|data):/.test(r.url())) errors.push('network request: ' + r.url()); });
    await page.goto('file://' + path.resolve(page_file));
    await page.waitForTimeout(300);

    // the chart
    const chart = await page.evaluate(() => {
      const c = document.getElementById('chart');
      if (!c) return null;
      const lines = [...c.querySelectorAll('polyline')].map((l) => l.getAttribute('points').trim().split(/\s+/).length);
      const box = c.getBoundingClientRect();
      return { points: +c.dataset.points, lines, hover: c.querySelectorAll('rect.hover title').length,
               peak: !!document.getElementById('peak'), width: box.width, height: box.height,
               title: (c.querySelector('rect.hover title') || {}).textContent || '' };
    });
    check(chart && chart.width > 300 && chart.height > 50, 'the memory chart is drawn', JSON.stringify(chart));
    if (chart) {
      check(chart.points === want.points && chart.lines.length === 3 && chart.lines.every((n) => n === want.points),
        `three lines over the profile's ${want.points} points`, JSON.stringify(chart.lines));
      check(chart.hover === want.points && /live .*resident .*sampled in use/.test(chart.title),
        'every point\'s values on hover', chart.title);
      check(chart.peak === want.peak, want.peak ? 'the peak is marked' : 'no peak marked (none recorded)');
    }

    // the flame graphs, one at a time
    const ids = Object.keys(want.flames);
    const buttons = await page.$$eval('#switch button', (bs) => bs.map((b) => b.dataset.id));
    check(JSON.stringify(buttons) === JSON.stringify(ids), 'a switch button per flame graph', JSON.stringify(buttons));
    for (const id of ids) {
      await page.click(`#switch button[data-id="${id}"]`);
      const shown = await page.$$eval('iframe.flame', (fs) => fs.filter((f) => getComputedStyle(f).display !== 'none').map((f) => f.id));
      check(JSON.stringify(shown) === JSON.stringify(['flame-' + id]), `the switch shows ${id} alone`, JSON.stringify(shown));
      const el = await page.$('#flame-' + id);
      const fr = await el.contentFrame();
      const info = await fr.evaluate(() => {
        const svg = document.documentElement;
        const gs = document.querySelectorAll('#frames > g.f');
        return { n: gs.length, total: +svg.dataset.total, drawn: gs.length ? gs[0].querySelector('rect').getBBox().width : 0 };
      });
      check(info.n > 0 && info.drawn > 100, `the ${id} flame graph renders (${info.n} frames)`, JSON.stringify(info));
      check(info.total === want.flames[id], `its total is fold's (${want.flames[id]})`, `${info.total}`);
    }
    await page.click(`#switch button[data-id="${ids[0]}"]`);

    const top = await page.$eval('#top', (e) => e.textContent.split('\n')[0]);
    const report = await page.$eval('#report', (e) => e.textContent.split('\n')[0]);
    check(top === want.top, 'the top table is top\'s', top);
    check(report === want.report, 'the report is report\'s', report);
    if (shot) await page.screenshot({ path: shot, fullPage: true });
    check(errors.length === 0, 'no script or console errors, no network', errors.join('; '));
  } finally {
    await ctx.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error('FAIL  ' + (e && e.stack || e));
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
