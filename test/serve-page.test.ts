// The chat page in a real browser (Debian's chromium, headless, driven by playwright-core):
// a question streams an answer, stop interrupts a slow stream, the conversation survives a
// reload, Markdown renders sanitised, the page fits a phone; a screenshot is kept under
// dist/test-output/ and checked not blank. With an API key, the page asks for it and sends
// it as a header, never in a URL. Skips when /usr/bin/chromium is absent.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, test } from 'node:test';
import { ROOT, tmpDir } from './helpers.js';
import { Running, startServer, tinyModelDir } from './serve-helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install -y chromium): browser test skipped`;
const SHOT = path.join(ROOT, 'dist', 'test-output', 'serve-page.png');

/** Distinct byte values in a PNG's decompressed pixel data (a blank page has very few). */
function pngVariety(png: Buffer): number {
  const idat: Buffer[] = [];
  for (let o = 8; o < png.length;) {
    const len = png.readUInt32BE(o), type = png.toString('ascii', o + 4, o + 8);
    if (type === 'IDAT') idat.push(png.subarray(o + 8, o + 8 + len));
    o += 12 + len;
  }
  return new Set(zlib.inflateSync(Buffer.concat(idat))).size;
}

let s: Running, locked: Running;
before(async () => {
  if (skip) return;
  const m = await tinyModelDir();
  s = await startServer(m);
  locked = await startServer(m, {}, { apiKey: 'open-sesame' });
});
after(async () => { await s?.close(); await locked?.close(); });

const browserArgs = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

test('the chat page streams, stops, keeps the conversation and fits a phone', { skip, timeout: 120_000 }, async () => {
  const { chromium } = await import('playwright-core');
  // a fresh profile directory each run (playwright passes it as --user-data-dir)
  const browser = await chromium.launchPersistentContext(tmpDir('minimind-chromium-'), { executablePath: CHROMIUM, headless: true, viewport: { width: 375, height: 740 },
    args: browserArgs });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(s.url + '/');
    await page.waitForFunction(() => document.getElementById('model')!.textContent === 'tiny');
    await page.click('#settings-toggle');
    await page.fill('#max_tokens', '6');
    await page.fill('#temperature', '1');
    await page.fill('#input', 'What is a cat?');
    await page.press('#input', 'Enter');
    // the answer streams in, then the page shows the token count from the usage chunk
    await page.waitForFunction(() => /tokens/.test(document.querySelector('.assistant .meta')?.textContent ?? ''), null, { timeout: 30_000 });
    assert.equal(await page.locator('.msg.user').first().textContent(), 'What is a cat?');
    assert.ok(await page.isVisible('#send'));

    // a slow stream (throttled network), stopped after the first words
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: 400, uploadThroughput: 100_000 });
    await page.fill('#max_tokens', '200');
    await page.fill('#input', 'Tell me more');
    await page.press('#input', 'Enter');
    await page.waitForSelector('#stop', { state: 'visible' });
    await page.waitForFunction(() => document.querySelectorAll('.assistant').length === 2 && document.querySelectorAll('.assistant')[1].querySelector('.content'));
    await page.click('#stop');
    await page.waitForFunction(() => document.querySelectorAll('.assistant')[1].querySelector('.meta')?.textContent === 'stopped');
    assert.ok(await page.isVisible('#send'));
    assert.ok(await page.isHidden('#stop'));
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });

    // Markdown renders and is sanitised: put an answer with code and a script-bearing image in the stored conversation
    await page.evaluate(() => {
      const st = JSON.parse(localStorage.getItem('minimind-chat')!);
      st.messages.push({ role: 'user', content: 'show code' },
        { role: 'assistant', content: 'Here is **bold** and\n\n```js\nlet x = 1;\n```\n\n<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>', reasoning_content: 'thinking it over' });
      localStorage.setItem('minimind-chat', JSON.stringify(st));
    });
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.ready === '1');
    assert.equal(await page.locator('.msg').count(), 6, 'the conversation survives a reload');
    const last = page.locator('.assistant').last();
    assert.equal(await last.locator('pre code').textContent(), 'let x = 1;\n');
    assert.equal(await last.locator('strong').textContent(), 'bold');
    assert.equal(await last.locator('details.reasoning').getAttribute('open'), null, 'reasoning is collapsed');
    assert.equal(await last.locator('[onerror], script').count(), 0, 'sanitised');
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);

    // phone width: nothing wider than the screen
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no horizontal scrolling at 375px');
    fs.mkdirSync(path.dirname(SHOT), { recursive: true });
    const png = await page.screenshot({ path: SHOT, fullPage: true });
    assert.ok(pngVariety(png) > 40, `screenshot ${SHOT} is not blank`);
    assert.deepEqual(errors, []);
    // the page works offline: every request it made went to the server itself
    assert.ok(requests.length >= 5);
    assert.deepEqual(requests.filter((u) => !u.startsWith(s.url + '/')), []);
    await page.close();
  } finally { await browser.close(); }
});

test('with --api_key, the page asks for the key, sends it as a header and never puts it in a URL', { skip, timeout: 120_000 }, async () => {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launchPersistentContext(tmpDir('minimind-chromium-'), { executablePath: CHROMIUM, headless: true, args: browserArgs });
  try {
    const page = await browser.newPage();
    const errors: string[] = [], urls: string[] = [], auth: (string | undefined)[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('request', (r) => { urls.push(r.url()); if (r.url().includes('/v1/')) auth.push(r.headers().authorization); });
    await page.goto(locked.url + '/');
    await page.waitForSelector('#login', { state: 'visible' });
    await page.fill('#key', 'wrong');
    await page.click('#unlock');
    await page.waitForFunction(() => document.getElementById('key-error')!.textContent === 'Incorrect API key.');
    await page.fill('#key', 'open-sesame');
    await page.click('#unlock');
    await page.waitForFunction(() => document.getElementById('model')!.textContent === 'tiny');
    assert.ok(await page.isHidden('#login'));
    await page.fill('#input', 'hello');
    await page.press('#input', 'Enter');
    await page.waitForFunction(() => /tokens/.test(document.querySelector('.assistant .meta')?.textContent ?? ''), null, { timeout: 30_000 });
    // a reload keeps the key for the tab (sessionStorage) without asking again
    await page.reload();
    await page.waitForFunction(() => document.getElementById('model')!.textContent === 'tiny');
    assert.ok(await page.isHidden('#login'));
    assert.deepEqual(urls.filter((u) => u.includes('open-sesame') || u.includes('wrong')), [], 'the key is in no URL');
    assert.ok(auth.includes('Bearer open-sesame'), 'the key went as a header');
    assert.ok(!page.url().includes('?'));
    assert.deepEqual(errors, []);
    await page.close();
  } finally { await browser.close(); }
});
