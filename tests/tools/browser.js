// browser.js — what the browser tests share: playwright-core (pinned in
// package-lock.json; build/node after `make check`) and the flags that run
// Debian's chromium headless and quiet.
'use strict';
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function loadPlaywright() {
  const tries = [process.env.PLAYWRIGHT_CORE, path.join(__dirname, 'node_modules', 'playwright-core'),
    path.join(ROOT, 'build', 'node', 'node_modules', 'playwright-core')].filter(Boolean);
  for (const t of tries) {
    try { return require(t); } catch (e) { if (e.code !== 'MODULE_NOT_FOUND') throw e; }
  }
  console.error('FAIL  playwright-core not found (tried ' + tries.join(', ') + '): npm ci in tests/tools');
  process.exit(1);
}

module.exports = { ROOT, CHROMIUM_ARGS, loadPlaywright };
