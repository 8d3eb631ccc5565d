#!/usr/bin/env node
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// Drive sonde's web view in headless Chromium (Debian's, through
// puppeteer-core) as a user would: open it, wait for its tables, take a
// screenshot, click a trace, wait for its timeline, take another.
//
//   node webview.mjs URL OUTDIR [TRACE_ID]
//
// Prints one JSON line: the services and routes the page shows, its
// dependencies with their status, the traces listed, and for the trace
// clicked (TRACE_ID, else the first with most spans) the rows of its
// timeline; the caller compares them with sonde's own answers. Writes
// OUTDIR/overview.png and OUTDIR/trace.png.
import path from 'path';
import { createRequire } from 'module';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
const MODULES = process.env.NODE_MODULES || path.join(ROOT, 'build/node/node_modules');
const require = createRequire(path.join(MODULES, 'noop.js'));
const puppeteer = require('puppeteer-core');

const [url, outdir, wanted] = process.argv.slice(2);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.setViewport({ width: 1400, height: 1000 });
  await page.goto(url, { waitUntil: 'networkidle0', timeout: 20000 });
  await page.waitForSelector('body[data-loaded="1"]', { timeout: 15000 });
  await page.waitForSelector('#traces tr.trace', { timeout: 15000 });
  const overview = await page.evaluate(() => ({
    routes: [...document.querySelectorAll('#routes tbody tr[data-service]')].map((tr) =>
      [...tr.children].map((td) => td.textContent)),
    deps: [...document.querySelectorAll('#deps tbody tr')].map((tr) =>
      [...tr.children].map((td) => td.textContent)),
    traces: [...document.querySelectorAll('#traces tr.trace')].map((tr) => ({
      id: tr.dataset.trace, spans: Number(tr.children[3].textContent),
    })),
  }));
  await page.screenshot({ path: path.join(outdir, 'overview.png'), fullPage: true });
  const pick = wanted || overview.traces.slice().sort((a, b) => b.spans - a.spans)[0].id;
  if (overview.traces.some((t) => t.id === pick)) {
    await page.click(`#traces tr.trace[data-trace="${pick}"]`);
  } else {
    // Older than the list's 20: the page opens a trace named in its address too.
    await page.goto(`${url}#trace=${pick}`, { waitUntil: 'networkidle0', timeout: 20000 });
    await page.reload({ waitUntil: 'networkidle0', timeout: 20000 });
  }
  await page.waitForSelector('#timeline .span', { timeout: 10000 });
  const trace = await page.evaluate(() => ({
    title: document.querySelector('#trace-title').textContent,
    rows: [...document.querySelectorAll('#timeline .span')].map((r) => ({
      span: r.dataset.span,
      label: r.querySelector('.label').textContent,
      left: parseFloat(r.querySelector('.bar').style.left),
      width: parseFloat(r.querySelector('.bar').style.width),
    })),
  }));
  await page.screenshot({ path: path.join(outdir, 'trace.png'), fullPage: true });
  console.log(JSON.stringify({ ...overview, clicked: pick, trace, errors }));
} finally {
  await browser.close();
}
