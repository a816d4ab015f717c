#!/usr/bin/env node
// flamegraph_browser.js -- the SVG flame graphs of tools/flamegraph.c, checked
// in a real browser (Debian's chromium, driven by playwright-core): widths
// against the folded weights, hover details, zoom and reset, search with
// nested matches, diff colours, escaping of XML specials and invalid UTF-8,
// well-formed XML, no script errors, write errors reported.
//
// usage: node tests/tools/flamegraph_browser.js [FLAME_DRIVER]
//   FLAME_DRIVER: built from tests/tools/flame_driver.c (default
//   build/tools/flame_driver); writes screenshots to /tmp/flame.png,
//   /tmp/flame-search.png, /tmp/flame-zoom.png and /tmp/flame-diff.png.
// usage: node tests/tools/flamegraph_browser.js --real SVG FOLDED [SVG FOLDED]...
//   checks what the tool wrote: SVG from `poolalloc-prof svg ... -o SVG`,
//   FOLDED from `poolalloc-prof fold ... -o FOLDED`, same dumps and --weight
//   (more pairs share one chromium, which is most of the time).
//   Every drawn frame must carry the sum of its folded weights, at the
//   right width; the header, hover, zoom, reset and search are checked too.
// playwright-core is looked up in $PLAYWRIGHT_CORE, tests/tools/node_modules,
// then build/node/node_modules. Ends with "N passed, N failed" and exits 1
// on any failure.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');

const { ROOT, CHROMIUM_ARGS, loadPlaywright } = require('./browser');
const REAL = process.argv[2] === '--real';
const DRIVER = REAL ? null : path.resolve(process.argv[2] || path.join(ROOT, 'build', 'tools-test', 'flame_driver'));
const FW = 1180, X0 = 10; // the frames' width and left margin in the SVG
const HINT = 'Hover a frame for details; click to zoom; / to search';

let passed = 0, failed = 0;
function check(ok, what, detail) {
  if (ok) { passed++; console.log('ok    ' + what); }
  else { failed++; console.log('FAIL  ' + what + (detail !== undefined ? ': ' + detail : '')); }
  return ok;
}
const near = (a, b, tol) => Math.abs(a - b) <= tol;

// ---- inputs: folded stacks as bytes, so names can be invalid UTF-8 ----
const B = (s) => Buffer.from(s, 'utf8');
const RAW = (...bytes) => Buffer.from(bytes);
const BAD = Buffer.concat([RAW(0xff), B('x'), RAW(0xe6, 0x97), B('y'), RAW(0x01), B('z|'), RAW(0xe0, 0x80, 0xaf),
  B('|'), RAW(0xed, 0xa0, 0x80), B('|'), RAW(0xf4, 0x90, 0x80, 0x80), B('|'), RAW(0xef, 0xbf, 0xbe), B('|\u{1f600}')]);
const BAD_SHOWN = '\ufffdx\ufffdy\ufffdz|\ufffd\ufffd\ufffd|\ufffd\ufffd\ufffd|\ufffd\ufffd\ufffd\ufffd|\ufffd|\u{1f600}';
const LONG = 'a_very_long_function_name_that_cannot_fit_in_its_narrow_frame_at_all';
const SPECIAL = '<xml> & "quotes" \'apos\'';
const STACKS = [
  [[B('main'), B('server'), B('handle_request'), B('parse_json'), B('alloc_node')], 3000000],
  // parse_json nested in itself: a search must count this stack once
  [[B('main'), B('server'), B('handle_request'), B('parse_json'), B('parse_json'), B('alloc_node')], 1500000],
  [[B('main'), B('server'), B('handle_request'), B('render')], 2000000],
  [[B('main'), B('server'), B('handle_request'), B('render')], 500000], // the same path again: weights add
  [[B('main'), B('server'), B('accept_loop')], 800000],
  [[B('main'), B('init'), B('load_config'), B(SPECIAL)], 1500000],
  // Latin-1 bytes; then a lone 0xff, a cut 3-byte sequence, a control
  // character, an overlong '/', a surrogate, a code point above U+10FFFF,
  // U+FFFE (not an XML character), and a valid 4-byte one
  [[B('main'), B('init'), Buffer.concat([B('caf'), RAW(0xe9), B('_latin1')]), BAD], 300000],
  [[B('main'), B('init'), B('日本語_utf8')], 250000],
  [[B('main'), B('init'), B(LONG)], 500000],
  [[B('main'), B('zero_weight')], 0],
  [[B('main'), B('tiny')], 1], // 0.0001 px: omitted
  [[B('worker'), B('thread_main'), B('parse_json')], 600000],
];
const DIFF_STACKS = [ // [frames, base, new]
  [['main', 'grow'], 1000, 5000],
  [['main', 'shrink'], 4000, 1000],
  [['main', 'same'], 2000, 2000],
  [['main', 'gone'], 3000, 0],
  [['main', 'fresh'], 0, 1500],
];

function folded(stacks) {
  return Buffer.concat(stacks.map(([frames, ...w]) =>
    Buffer.concat([Buffer.concat(frames.flatMap((f, i) => (i ? [B(';'), f] : [f]))), B(' ' + w.join(' ') + '\n')])));
}

// The tool's folded output as stacks: "a;b;c WEIGHT" per line; a frame may
// hold spaces, the weight follows the last one. Names stay bytes.
function parseFolded(buf, file) {
  const stacks = [];
  for (let s = 0, lineno = 1; s < buf.length; lineno++) {
    let e = buf.indexOf(0x0a, s);
    if (e < 0) e = buf.length;
    const line = buf.subarray(s, e);
    s = e + 1;
    const sp = line.lastIndexOf(0x20);
    const w = sp > 0 ? line.subarray(sp + 1).toString('latin1') : '';
    if (!/^[0-9]+$/.test(w) || !Number.isSafeInteger(+w)) throw new Error(`${file}:${lineno}: not "a;b;c WEIGHT"`);
    const frames = [];
    for (let a = 0; a <= sp;) {
      let b = line.indexOf(0x3b, a);
      if (b < 0 || b > sp) b = sp;
      frames.push(line.subarray(a, b));
      a = b + 1;
    }
    stacks.push([frames, +w]);
  }
  return stacks;
}

// What the SVG must show for a name: invalid UTF-8 as U+FFFD per maximal
// subpart (TextDecoder's rule), control characters and U+FFFE/F as U+FFFD.
function clean(buf) {
  return new TextDecoder('utf-8').decode(buf).replace(/[\x00-\x1f\ufffe\uffff]/g, '\ufffd');
}
const shownName = (f) => (typeof f === 'string' ? f : clean(f));

// Per-frame expected sums: key = names from the root joined by NUL.
function expectedFrames(stacks, diff) {
  const m = new Map();
  const add = (key, d, v, b) => {
    const e = m.get(key) || { d, value: 0, base: 0 };
    e.value += v; e.base += b; m.set(key, e);
  };
  for (const [frames, a, b] of stacks) {
    const value = diff ? b : a, base = diff ? a : 0;
    if (!value && !base) continue;
    const names = ['all'];
    add('all', 0, value, base);
    frames.forEach((f, i) => {
      names.push(shownName(f));
      add(names.join('\0'), i + 1, value, base);
    });
  }
  return m;
}

let nfolded = 0, DRIVER_TMP;
function drive(args, input, out) {
  const inFile = path.join(path.dirname(DRIVER_TMP), 'in' + nfolded++ + '.folded');
  fs.writeFileSync(inFile, input);
  return spawnSync(DRIVER, [...args, inFile, out], { encoding: 'utf8' });
}

function wellFormed(file) {
  try {
    execFileSync('python3', ['-c', 'import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])', file],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    return true;
  } catch (e) {
    return String(e.stderr).trim().split('\n').pop();
  }
}

// Everything the page shows about its frames.
async function readFrames(page) {
  return page.evaluate(() => Array.from(document.querySelectorAll('#frames > g.f')).map((g) => {
    const r = g.querySelector('rect'), t = g.querySelector('text'), bb = r.getBBox();
    const cr = r.getBoundingClientRect();
    return {
      name: g.querySelector('title').textContent.split('\n')[0], title: g.querySelector('title').textContent,
      d: +g.dataset.d, x: +g.dataset.x, w: +g.dataset.w, b: g.dataset.b === undefined ? null : +g.dataset.b,
      bx: bb.x, bw: bb.width, cx: cr.x + cr.width / 2, cy: cr.y + cr.height / 2, cw: cr.width,
      hidden: getComputedStyle(g).display === 'none', cls: g.getAttribute('class'),
      label: t.textContent, labelPx: t.getComputedTextLength(), fill: getComputedStyle(r).fill,
    };
  }));
}

function withPaths(frames) {
  const stack = [];
  for (const f of frames) { stack.length = f.d; stack.push(f.name); f.key = stack.join('\0'); }
  return frames;
}
const parentKey = (key) => key.slice(0, key.lastIndexOf('\0'));
const under = (f, top) => f.key === top.key || f.key.startsWith(top.key + '\0'); // top or its callees

function rgb(s) { const m = /rgb\((\d+), ?(\d+), ?(\d+)\)/.exec(s); return m ? m.slice(1).map(Number) : null; }
const group = (v) => v.toLocaleString('en-US');
const pctOf = (text, label) => { const m = new RegExp('([0-9.]+)% ' + label).exec(text); return m ? +m[1] : NaN; };

// Does text show the weight v: "N objects", "N bytes" below 1 KiB, else
// "1.99 GiB (2,138,208,393 bytes)" with the short form rounding to v?
const SUFFIX = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
function shortNear(num, suffix, v) {
  const div = 1024 ** SUFFIX.indexOf(suffix), decimals = (num.split('.')[1] || '').length;
  return Math.abs(+num * div - v) <= 0.5 * 10 ** -decimals * div * (1 + 1e-9);
}
function showsAmount(text, v, unit) {
  if (unit === 'bytes' && v >= 1024) {
    const m = /([0-9.]+) ([KMGTPE]iB) \(([0-9,]+) bytes\)/.exec(text);
    return !!m && m[3] === group(v) && shortNear(m[1], m[2], v);
  }
  const m = new RegExp('(?:^|[^0-9,.])([0-9,]+) ' + unit + '\\b').exec(text);
  return !!m && m[1] === group(v);
}

// Screenshots of the whole SVG (fullPage does not work on an SVG document).
async function shoot(page, file) {
  const h = await page.evaluate(() => document.documentElement.viewBox.baseVal.height);
  await page.setViewportSize({ width: 1200, height: Math.ceil(h) });
  await page.screenshot({ path: file });
}

async function openSvg(ctx, file, errors) {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => errors.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console error: ' + m.text()); });
  await page.goto('file://' + path.resolve(file));
  // The graph follows the window's width (width 100%, its viewBox 1200 wide).
  for (const w of [800, 1600]) {
    await page.setViewportSize({ width: w, height: 400 });
    const cw = await page.evaluate(() => document.documentElement.getBoundingClientRect().width);
    check(Math.abs(cw - w) <= 1, `the graph is as wide as a ${w} px window`, `${cw} px`);
  }
  // Then drawn at its own size (1200 px), the whole of it in the viewport, so
  // that every frame can be hovered where its viewBox coordinates say.
  const h = await page.evaluate(() => document.documentElement.viewBox.baseVal.height || 0);
  await page.setViewportSize({ width: 1200, height: Math.ceil(Math.max(h, 380)) });
  return page;
}

// ---- checks shared by both modes ----

// The drawn frames against the folded stacks: exactly those of weight > 0
// and width >= 0.1 px, each with the sum of its stacks' weights, drawn in
// proportion; siblings in name order; the root at the bottom, full width;
// labels that fit; the legend counting what was left out.
async function checkFrames(page, stacks) {
  const isSvg = await page.evaluate(() => document.documentElement.localName === 'svg' &&
    !document.getElementsByTagName('parsererror').length);
  check(isSvg, 'chromium parses the file as SVG');

  const expected = expectedFrames(stacks, false);
  const total = expected.has('all') ? expected.get('all').value : 0;
  const isDrawn = (e) => e.value > 0 && e.value * FW >= 0.1 * total;
  const drawnKeys = [...expected].filter(([, e]) => isDrawn(e)).map(([k]) => k);
  const omitted = [...expected].filter(([, e]) => e.value > 0 && !isDrawn(e)).length;
  const frames = withPaths(await readFrames(page));
  const byKey = new Map(frames.map((f) => [f.key, f]));
  check(frames.length === drawnKeys.length && drawnKeys.every((k) => byKey.has(k)),
    `the drawn frames are exactly those of weight > 0 and width >= 0.1 px (${drawnKeys.length})`,
    JSON.stringify({ got: frames.map((f) => f.key), want: drawnKeys }));
  const badW = frames.filter((f) => !expected.has(f.key) || f.w !== expected.get(f.key).value || f.d !== expected.get(f.key).d);
  check(badW.length === 0, 'every frame\'s data-w is the sum of its folded weights',
    JSON.stringify(badW.map((f) => [f.key.replace(/\0/g, ';'), f.w, expected.has(f.key) ? expected.get(f.key).value : 'no such stack'])));
  const badPx = frames.filter((f) => !near(f.bw, f.w / total * FW, 0.011) || !near(f.cw, f.bw, 0.02) ||
    !near(f.bx, X0 + f.x / total * FW, 0.011));
  check(badPx.length === 0, 'rendered widths and positions are proportional to the weights',
    JSON.stringify(badPx.map((f) => [f.name, f.bw, f.w / total * FW])));
  // Children lie on their parent, in name order, left to right.
  const badOrder = frames.filter((f, i) => frames.slice(i + 1).some((g) => g.d === f.d && parentKey(g.key) === parentKey(f.key) &&
    !(g.name > f.name && g.x >= f.x + f.w)));
  check(badOrder.length === 0, 'siblings are sorted by name and do not overlap', JSON.stringify(badOrder.map((f) => f.key)));
  const root = frames[0];
  check(root && root.name === 'all' && root.d === 0 && root.w === total && near(root.bw, FW, 0.01), 'the root "all" spans the width');
  const badY = frames.filter((f) => f.d > 0 && !(byKey.has(parentKey(f.key)) && f.cy < byKey.get(parentKey(f.key)).cy));
  check(badY.length === 0, 'the root is at the bottom, callees above their callers', JSON.stringify(badY.map((f) => f.key)));

  // Labels: whole, or cut with "..", never wider than the frame.
  const badLabel = frames.filter((f) => (f.label !== '' && f.labelPx > f.bw - 2) || !(f.label === f.name || f.label === '' ||
    (f.label.endsWith('..') && f.name.startsWith(f.label.slice(0, -2)))));
  check(badLabel.length === 0, 'labels fit their frames and are the name or a prefix with ".."',
    JSON.stringify(badLabel.map((f) => [f.name, f.label, f.labelPx, f.bw])));
  const legend = await page.evaluate(() => { const l = document.getElementById('legend'); return l ? l.textContent : ''; });
  check(omitted ? legend.includes(`${group(omitted)} frame${omitted === 1 ? '' : 's'} narrower than 0.1 px not drawn`) : !/not drawn/.test(legend),
    `the legend counts the frames too narrow to draw (${omitted})`, JSON.stringify(legend));
  return { expected, total, frames, byKey };
}

// The header: data-total, the exact total in the tooltip, a short one shown.
async function checkTotals(page, total, unit) {
  const t = await page.evaluate(() => {
    const e = document.getElementById('totals'), tt = e && e.querySelector('title');
    return { data: document.documentElement.getAttribute('data-total'), title: tt ? tt.textContent : '',
      text: e ? e.lastChild.textContent : '' };
  });
  const m = /^Total: ([0-9.]+) ([KMGTPE]iB)$|^Total: ([0-9,]+) (bytes|objects)$/.exec(t.text);
  const shown = m && (m[1] ? unit === 'bytes' && total >= 1024 && shortNear(m[1], m[2], total) : m[4] === unit && m[3] === group(total));
  check(+t.data === total && showsAmount(t.title, total, unit) && shown,
    `header: the total is ${group(total)} ${unit}, exact in the tooltip`, JSON.stringify(t));
}

// Hover: the details line has the frame's name, weight and share of total.
async function checkHover(page, f, total, unit) {
  await page.mouse.move(f.cx, f.cy);
  const details = await page.textContent('#details');
  check(details.startsWith(f.name + ': ') && showsAmount(details.slice(f.name.length + 2), f.w, unit) &&
    near(pctOf(details, 'of total'), 100 * f.w / total, 0.0051),
  `hover ${JSON.stringify(f.name)}: details show name, weight and share`, details);
  return details;
}

// Click: the frame fills the width, its callees scale with it, its callers
// stay as full-width context, everything else is hidden.
async function checkZoom(page, frames, top) {
  await page.mouse.click(top.cx, top.cy);
  const z = withPaths(await readFrames(page));
  const zk = new Map(z.map((f) => [f.key, f]));
  const zt = zk.get(top.key);
  check(zt && near(zt.bx, X0, 0.01) && near(zt.bw, FW, 0.01) && near(zt.cw, FW, 0.02),
    `zoom ${JSON.stringify(top.name)}: the clicked frame fills the width`, zt && zt.bw);
  const callers = z.filter((f) => top.key.startsWith(f.key + '\0'));
  const inside = z.filter((f) => under(f, top)), others = z.filter((f) => !under(f, top) && !callers.includes(f));
  check(others.every((f) => f.hidden && f.cw === 0), `zoom: siblings and other branches are hidden (${others.length})`,
    JSON.stringify(others.filter((f) => !f.hidden).map((f) => f.key)));
  const badScale = inside.filter((f) => f.hidden || !near(f.bw, f.w / top.w * FW, 0.011) || !near(f.bx, X0 + (f.x - top.x) / top.w * FW, 0.011));
  check(badScale.length === 0, `zoom: callees scale with the zoomed frame (${inside.length - 1})`,
    JSON.stringify(badScale.map((f) => [f.name, f.bw, f.w / top.w * FW])));
  check(callers.length === top.d && callers.every((f) => !f.hidden && near(f.bw, FW, 0.01) && /anc/.test(f.cls)),
    'zoom: callers stay drawn as full-width context');
  check(await page.evaluate(() => !document.getElementById('reset').classList.contains('off')), 'zoom: reset is enabled');
  check(z.filter((f) => !f.hidden).every((f) => f.label === '' || f.labelPx <= f.bw - 2), 'zoom: labels re-fitted');
  return zk;
}

// Hover in a zoomed graph: f's share of total and of the zoomed frame.
async function checkZoomedHover(page, f, top, total) {
  await page.mouse.move(f.cx, f.cy);
  const details = await page.textContent('#details');
  check(details.startsWith(f.name + ': ') && near(pctOf(details, 'of zoomed frame'), 100 * f.w / top.w, 0.0051) &&
    near(pctOf(details, 'of total'), 100 * f.w / total, 0.0051), 'zoomed hover: share of total and of the zoomed frame', details);
}

async function checkReset(page, frames) {
  await page.click('#reset');
  check(await page.textContent('#details') === HINT, 'reset: the details line shows the hint again');
  const back = withPaths(await readFrames(page));
  check(back.length === frames.length && back.every((f, i) => !f.hidden && near(f.bw, frames[i].bw, 0.011) &&
    near(f.bx, frames[i].bx, 0.011) && !/anc/.test(f.cls)), 'reset restores every frame');
  check(back.every((f, i) => f.label === frames[i].label), 'reset restores the labels');
  check(await page.evaluate(() => document.getElementById('reset').classList.contains('off')), 'reset: the button is disabled again');
}

// Search q (re: what it must match): exactly the matching frames are
// highlighted; the matched weight counts each stack once, however many of
// its drawn frames match.
async function checkSearch(page, frames, stacks, total, unit, q, re) {
  await page.fill('#search input', q);
  const got = await page.evaluate(() => Array.from(document.querySelectorAll('#frames > g.f')).map((g) => g.classList.contains('hl')));
  const want = frames.map((f, i) => i > 0 && re.test(f.name));
  const drawn = new Set(frames.map((f) => f.key));
  const hits = (fr) => { const k = ['all']; return fr.some((f) => { k.push(shownName(f)); return re.test(k[k.length - 1]) && drawn.has(k.join('\0')); }); };
  const wantSum = stacks.filter(([fr, v]) => v > 0 && hits(fr)).reduce((a, [, v]) => a + v, 0);
  const m = await page.textContent('#matched');
  check(got.length === want.length && got.every((h, i) => h === want[i]),
    `search ${JSON.stringify(q)}: exactly the matching frames are highlighted (${want.filter(Boolean).length})`);
  check(showsAmount(m, wantSum, unit) && near(pctOf(m, 'of total'), 100 * wantSum / total, 0.0051),
    `search ${JSON.stringify(q)}: matched ${group(wantSum)} = ${(100 * wantSum / total).toFixed(2)}%`, m);
}

async function checkSearchClears(page) {
  await page.press('#search input', 'Escape');
  check(await page.evaluate(() => !document.querySelector('.hl') && document.getElementById('matched').textContent === ''),
    'Escape clears the search');
}

// ---- mode 1: flamegraph.c through the driver ----
async function driverMode(launch, tmp) {
  if (!fs.existsSync(DRIVER)) { check(false, 'no driver at ' + DRIVER); return; }
  DRIVER_TMP = path.join(tmp, 'x');
  // ---- the C side alone: XML, determinism, units, errors ----
  const svg = path.join(tmp, 'main.svg');
  let r = drive(['-t', 'Allocations (alloc_space)', '-s', 'test program & <friends>'], folded(STACKS), svg);
  check(r.status === 0, 'driver writes the SVG', r.stderr);
  const wf = wellFormed(svg);
  check(wf === true, 'the SVG is well-formed XML (python3 minidom)', wf);
  const shuffled = path.join(tmp, 'shuffled.svg');
  drive(['-t', 'Allocations (alloc_space)', '-s', 'test program & <friends>'], folded([...STACKS].reverse()), shuffled);
  check(fs.readFileSync(svg).equals(fs.readFileSync(shuffled)), 'output does not depend on the order of the stacks');
  const text = fs.readFileSync(svg, 'utf8');
  check(/id="totals"[^>]*><title>10\.4 MiB \(10,950,001 bytes\)<\/title>Total: 10\.4 MiB</.test(text),
    'totals: short with the unit, exact in the tooltip');
  check(/1 frame narrower than 0\.1 px not drawn/.test(text), 'the omitted frame is counted in the legend');
  check(!/ÿ|\x01/.test(text), 'no raw invalid byte or control character in the file');

  const objSvg = path.join(tmp, 'objects.svg');
  drive(['-u', 'objects'], B('a;b 1234\na;c 5\n'), objSvg);
  check(/Total: 1,239 objects</.test(fs.readFileSync(objSvg, 'utf8')), 'objects print as counts');
  const emptySvg = path.join(tmp, 'empty.svg');
  r = drive([], B(''), emptySvg);
  check(r.status === 0 && wellFormed(emptySvg) === true && /No samples/.test(fs.readFileSync(emptySvg, 'utf8')),
    'no stacks: a well-formed SVG saying "No samples"');
  r = drive([], folded(STACKS), '/dev/full');
  check(r.status === 1 && /^poolalloc-prof: cannot write the flame graph: No space left on device$/m.test(r.stderr),
    'a write error is reported and returns -1', JSON.stringify(r.stderr));

  const diffSvg = path.join(tmp, 'diff.svg');
  const diffIn = Buffer.from(DIFF_STACKS.map(([f, b, n]) => f.join(';') + ' ' + b + ' ' + n + '\n').join(''));
  r = drive(['-d', '-t', 'Diff'], diffIn, diffSvg);
  check(r.status === 0 && wellFormed(diffSvg) === true, 'the diff SVG is written and well-formed', r.stderr);

  // ---- the browser ----
  const ctx = await launch();
  const errors = [];
  const page = await openSvg(ctx, svg, errors);
  const { total, frames, byKey } = await checkFrames(page, STACKS);
  check(!byKey.has('all\0main\0tiny') && !byKey.has('all\0main\0zero_weight'), 'zero and tiny frames are not drawn');
  await checkTotals(page, total, 'bytes');

  // Escaping and UTF-8.
  const nameSet = new Set(frames.map((f) => f.name));
  check(nameSet.has(SPECIAL), 'XML specials survive in a name', [...nameSet].join(' | '));
  check(nameSet.has('caf\ufffd_latin1') && nameSet.has(BAD_SHOWN) && clean(BAD) === BAD_SHOWN && nameSet.has('日本語_utf8'),
    'invalid UTF-8 and control bytes become U+FFFD, valid UTF-8 is kept');
  const specialF = frames.find((f) => f.name === SPECIAL);
  check(specialF && specialF.label.startsWith('<xml> & "quotes" '), 'the specials frame shows its name', specialF && specialF.label);
  const longF = frames.find((f) => f.name === LONG);
  check(longF && longF.label.endsWith('..') && longF.label.length > 3, 'a long name is truncated with ".."', longF && longF.label);
  check(frames.find((f) => f.name === 'handle_request').label === 'handle_request', 'a wide frame shows its whole name');

  // Hover: details line.
  const render = byKey.get('all\0main\0server\0handle_request\0render');
  const details = await checkHover(page, render, total, 'bytes');
  check(details.startsWith('render: 2.38 MiB (2,500,000 bytes), 22.83% of total'), 'hover: the weight is short and exact', details);
  check(render.title === 'render\n2.38 MiB (2,500,000 bytes), 22.83% of total', 'the native tooltip has name, weight and share', render.title);

  // Click: zoom to handle_request.
  const hr = byKey.get('all\0main\0server\0handle_request');
  const zk = await checkZoom(page, frames, hr);
  check(['all\0main\0server\0accept_loop', 'all\0main\0init', 'all\0worker'].every((k) => zk.get(k).hidden),
    'zoom: accept_loop, init and worker are among the hidden');
  const zpj = zk.get('all\0main\0server\0handle_request\0parse_json');
  check(zpj.label === 'parse_json', 'zoom: a widened frame shows its whole name', zpj.label);
  await checkZoomedHover(page, zk.get(render.key), hr, total);
  await shoot(page, '/tmp/flame-zoom.png');
  await checkReset(page, frames);

  // Search: highlighted frames and matched share, counted once per stack.
  const searches = [
    ['parse_json', /parse_json/i],
    ['^(render|accept_loop)$', /^(render|accept_loop)$/],
    ['main', /main/i],
    ['MAIN', /MAIN/],
    [SPECIAL, new RegExp(SPECIAL, 'i')],
    ['parse_json(', /parse_json\(/i], // not a regex: searched as text
  ];
  for (const [q, re] of searches) await checkSearch(page, frames, STACKS, total, 'bytes', q, re);
  const pjFrames = frames.filter((f) => f.name === 'parse_json').reduce((a, f) => a + f.w, 0);
  check(pjFrames === 6600000, 'the nested case is real: parse_json frames sum to more than their stacks (6.6 MB vs 5.1 MB)');
  await page.fill('#search input', 'parse_json');
  await shoot(page, '/tmp/flame-search.png');
  await checkSearchClears(page);
  await page.keyboard.press('/');
  check(await page.evaluate(() => document.activeElement && document.activeElement.localName === 'input'), '"/" focuses the search box');
  await page.mouse.move(render.cx, render.cy);
  await shoot(page, '/tmp/flame.png');
  check(errors.length === 0, 'no script or console errors', errors.join('; '));

  // ---- diff ----
  const derr = [];
  const dpage = await openSvg(ctx, diffSvg, derr);
  const df = withPaths(await readFrames(dpage));
  const dexp = expectedFrames(DIFF_STACKS, true);
  const dtotal = dexp.get('all').value;
  const dk = new Map(df.map((f) => [f.key, f]));
  const dwant = [...dexp].filter(([, e]) => e.value > 0).map(([k]) => k);
  check(df.length === dwant.length && df.every((f) => dexp.has(f.key) && f.w === dexp.get(f.key).value && f.b === dexp.get(f.key).base),
    'diff: data-w is the new weight, data-b the base, per frame', JSON.stringify(df.map((f) => [f.key, f.w, f.b])));
  check(!dk.has('all\0main\0gone'), 'diff: a frame only in the base has no width');
  check(df.every((f) => near(f.bw, f.w / dtotal * FW, 0.011)), 'diff: widths are the new profile');
  const [gr, gg, gb] = rgb(dk.get('all\0main\0grow').fill);
  const [sr, sg, sb] = rgb(dk.get('all\0main\0shrink').fill);
  const [ur, ug, ub] = rgb(dk.get('all\0main\0same').fill);
  check(gr === 255 && gg < 100 && gb < 100, 'diff: the most grown frame is strong red', [gr, gg, gb]);
  check(sb === 255 && sr < 200 && sg < 200, 'diff: a shrunk frame is blue', [sr, sg, sb]);
  check(ur === ug && ug === ub && ur > 180, 'diff: an unchanged frame is grey', [ur, ug, ub]);
  const [fr, fg] = rgb(dk.get('all\0main\0fresh').fill);
  check(fr === 255 && fg > gg, 'diff: a smaller growth is a paler red', [fr, fg]);
  const grow = dk.get('all\0main\0grow');
  await dpage.mouse.move(grow.cx, grow.cy);
  const ddetails = await dpage.textContent('#details');
  check(ddetails.startsWith('grow: new 4.88 KiB (5,000 bytes), base 1,000 bytes, delta +3.91 KiB (4,000 bytes) (+400.00%)'),
    'diff hover: new, base and the delta with its percent', ddetails);
  check(/delta -2\.93 KiB \(3,000 bytes\) \(-75\.00%\)/.test(dk.get('all\0main\0shrink').title), 'diff tooltip: a negative delta', dk.get('all\0main\0shrink').title);
  check(/widths are the new profile/.test(await dpage.textContent('#legend')), 'diff: the legend says widths are the new profile');
  await shoot(dpage, '/tmp/flame-diff.png');
  check(derr.length === 0, 'diff: no script or console errors', derr.join('; '));

  const eerr = [];
  const epage = await openSvg(ctx, emptySvg, eerr);
  await epage.mouse.click(600, 100);
  await epage.keyboard.press('Escape');
  check(eerr.length === 0, 'empty graph: no script errors', eerr.join('; '));
}

// ---- mode 2: poolalloc-prof's svg against its fold ----
const reQuote = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
// The search box's rule: case-insensitive unless the query has a capital.
const searchRe = (q) => new RegExp(q, /[A-Z]/.test(q) ? '' : 'i');
const widest = (fs_) => fs_.reduce((a, f) => (!a || f.w > a.w ? f : a), null);

async function realMode(launch, svgFile, foldedFile) {
  let stacks;
  try { stacks = parseFolded(fs.readFileSync(foldedFile), foldedFile); } catch (e) { check(false, 'read the folded stacks', e.message); return; }
  const foldTotal = stacks.reduce((a, [, v]) => a + v, 0);
  if (!check(foldTotal > 0, `${svgFile} against ${foldedFile}: ${stacks.length} stacks, total ${group(foldTotal)}`, 'nothing to compare') ||
      !check(fs.existsSync(svgFile), `${svgFile} exists`)) return;
  const wf = wellFormed(svgFile);
  check(wf === true, 'the SVG is well-formed XML (python3 minidom)', wf);

  const ctx = await launch();
  const errors = [];
  const page = await openSvg(ctx, svgFile, errors);
  const head = await page.evaluate(() => ({ unit: document.documentElement.getAttribute('data-unit'),
    title: (document.getElementById('title') || {}).textContent || '' }));
  const unit = head.unit;
  const named = /_(space|objects)\)?$/.exec(head.title); // the default title names the weight
  check((unit === 'bytes' || unit === 'objects') && (!named || (named[1] === 'space') === (unit === 'bytes')),
    `the unit is ${unit}, as the title says`, JSON.stringify(head));
  const { total, frames, byKey } = await checkFrames(page, stacks);
  await checkTotals(page, foldTotal, unit);
  check(total === foldTotal, 'the root holds the folded total');
  if (frames.length < 2) { await page.close(); return; } // nothing to hover, zoom or find

  // Hover the widest leaf: a frame with no drawn callee.
  const hasKids = new Set(frames.map((f) => parentKey(f.key)));
  const leaf = widest(frames.filter((f) => f.d > 0 && !hasKids.has(f.key)));
  if (check(leaf, 'there is a leaf to hover')) await checkHover(page, leaf, total, unit);

  // Zoom into the widest frame that has callees and at most half the total
  // (else the widest below the total, else any), hover its widest callee.
  const clickable = frames.filter((f) => f.d > 0 && f.cw >= 2);
  const top = widest(clickable.filter((f) => hasKids.has(f.key) && 2 * f.w <= total)) ||
    widest(clickable.filter((f) => f.w < total)) || clickable[clickable.length - 1];
  if (check(top, 'there is a frame to zoom into')) {
    const zk = await checkZoom(page, frames, top);
    const callee = widest(frames.filter((f) => f.d === top.d + 1 && parentKey(f.key) === top.key)) || top;
    await checkZoomedHover(page, zk.get(callee.key), top, total);
    await checkReset(page, frames);
  }

  // Search for names of the folded input, quoted: the name drawn in the
  // most frames (then: in the most stacks, but not all), and the widest
  // leaf's name (or the runner-up).
  const inStacks = new Map(), inFrames = new Map();
  for (const [fr, v] of stacks) if (v > 0) for (const n of new Set(fr.map(shownName))) inStacks.set(n, (inStacks.get(n) || 0) + 1);
  for (const f of frames.slice(1)) inFrames.set(f.name, (inFrames.get(f.name) || 0) + 1);
  const nstacks = stacks.filter(([, v]) => v > 0).length;
  const ranked = [...inFrames.keys()].filter((n) => n !== '' && inStacks.get(n) < nstacks)
    .sort((a, b) => inFrames.get(b) - inFrames.get(a) || inStacks.get(b) - inStacks.get(a) || (a < b ? -1 : 1));
  const names = [...new Set([ranked[0], leaf && leaf.name, ranked[1]].filter(Boolean))].slice(0, 2);
  if (!names.length) names.push(frames[frames.length - 1].name);
  const queries = names.map(reQuote);
  // A caller and its callee at once: their stacks must be counted once.
  const pair = leaf && leaf.d > 1 && byKey.get(parentKey(leaf.key));
  if (pair) queries.push('^(?:' + reQuote(pair.name) + '|' + reQuote(leaf.name) + ')$');
  for (const q of queries) await checkSearch(page, frames, stacks, total, unit, q, searchRe(q));
  await checkSearchClears(page);
  check(errors.length === 0, 'no script or console errors', errors.join('; '));
  await page.close();
}

async function main() {
  const t0 = Date.now();
  const pairs = process.argv.slice(3);
  if (REAL && (!pairs.length || pairs.length % 2)) {
    console.error('usage: node tests/tools/flamegraph_browser.js [FLAME_DRIVER | --real SVG FOLDED [SVG FOLDED]...]');
    process.exit(2);
  }
  const { chromium } = loadPlaywright();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flame-test-'));
  let ctx;
  const launch = async () => {
    if (ctx) return ctx;
    ctx = await chromium.launchPersistentContext(path.join(tmp, 'chromium-profile'), {
      executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS,
      viewport: { width: 1220, height: 400 },
    });
    return ctx;
  };
  try {
    if (REAL) for (let i = 0; i < pairs.length; i += 2) await realMode(launch, pairs[i], pairs[i + 1]);
    else await driverMode(launch, tmp);
  } finally {
    if (ctx) await ctx.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`flame graph browser test${REAL ? ' (' + pairs.filter((p, i) => i % 2 === 0).join(', ') + ')' : ''}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error('FAIL  ' + (e && e.stack || e));
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
