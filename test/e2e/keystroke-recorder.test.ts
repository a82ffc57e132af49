/**
 * public/js/keystroke-recorder.js in real headless Chromium (skipped without it): real, trusted key
 * events under a strict CSP, Shift and rollover, a Backspace refusal, synthetic events, and a form
 * post that carries only the timing samples.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { parseSample } from '../../src/keystroke/features.ts';
import { chromiumAvailable, launchChromium } from '../helpers/chromium.ts';

const SENTENCE = 'Quiet rivers carry old stories home';
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><script src="/js/keystroke-recorder.js" defer></script></head><body>
<form data-keystroke-form method="post" action="/done">
  <p data-keystroke-sentence>${SENTENCE}</p>
  <input type="text" data-keystroke-input name="leak" id="t1"><input type="hidden" name="ks1" data-keystroke-sample id="h1">
  <input type="text" data-keystroke-input id="t2"><input type="hidden" name="ks2" data-keystroke-sample id="h2">
  <p data-keystroke-message id="msg"></p>
  <button type="submit" id="go">Continue</button>
</form></body></html>`;

describe.skipIf(!chromiumAvailable())('keystroke-recorder.js in Chromium', () => {
  let server: http.Server;
  let browser: Browser;
  let page: Page;
  let posted = '';
  const consoleMessages: string[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/js/keystroke-recorder.js') {
        res.setHeader('content-type', 'text/javascript');
        res.end(readFileSync(new URL('../../public/js/keystroke-recorder.js', import.meta.url)));
      } else if (req.method === 'POST') {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          posted = body;
          res.end('ok');
        });
      } else {
        res.setHeader('content-security-policy', "default-src 'self'; script-src 'self'");
        res.setHeader('content-type', 'text/html');
        res.end(PAGE);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('console', (m) => consoleMessages.push(m.text()));
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  const codeOf = (ch: string) => (ch === ' ' ? 'Space' : `Key${ch.toUpperCase()}`);
  const state = (id: string) => page.$eval(id, (e) => e.getAttribute('data-keystroke-state'));

  /** Types SENTENCE: the capital with Shift, and every 4th pair of different keys rolled over. */
  async function typeSentence() {
    const kb = page.keyboard;
    await kb.down('Shift');
    await kb.down('KeyQ');
    await page.waitForTimeout(30);
    await kb.up('KeyQ');
    await kb.up('Shift');
    const rest = SENTENCE.slice(1);
    for (let i = 0; i < rest.length; i++) {
      const a = codeOf(rest[i]!);
      const next = rest[i + 1];
      await page.waitForTimeout(15);
      if (i % 4 === 1 && next && next !== rest[i]) {
        const b = codeOf(next);
        await kb.down(a);
        await page.waitForTimeout(15);
        await kb.down(b);
        await page.waitForTimeout(10);
        await kb.up(a);
        await page.waitForTimeout(10);
        await kb.up(b);
        i++;
      } else {
        await kb.down(a);
        await page.waitForTimeout(20);
        await kb.up(a);
      }
    }
  }

  it('records typings, refuses corrections and synthetic events, and posts only the samples', async () => {
    await page.focus('#t1');
    expect(await page.$eval('#go', (b) => (b as HTMLButtonElement).disabled)).toBe(true);
    expect(await page.$eval('#t1', (e) => e.hasAttribute('name'))).toBe(false);

    await page.keyboard.type('Qui');
    await page.keyboard.press('Backspace');
    expect(await state('#t1')).toBe('refused');
    expect(await page.$eval('#msg', (e) => e.textContent)).toBe('Type it again as it appears.');
    expect(await page.inputValue('#t1')).toBe('');

    await typeSentence();
    expect(await state('#t1')).toBe('valid');
    const s1 = parseSample(await page.inputValue('#h1'), SENTENCE.length);
    expect(s1).not.toBeNull();
    expect(s1!.ud.some((x) => x < 0)).toBe(true); // rollover recorded, not refused
    expect(await page.$eval('#msg', (e) => e.textContent)).toBe('');

    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('t2');
    await page.evaluate(() => {
      document.getElementById('t2')!.dispatchEvent(new KeyboardEvent('keydown', { key: 'Q', code: 'KeyQ', bubbles: true }));
    });
    expect(await state('#t2')).toBe('refused');

    await typeSentence();
    expect(await state('#t2')).toBe('valid');
    expect(await page.$eval('#go', (b) => (b as HTMLButtonElement).disabled)).toBe(false);
    await Promise.all([page.waitForURL('**/done'), page.keyboard.press('Enter')]);
    expect(posted.split('&').map((kv) => kv.split('=')[0])).toEqual(['ks1', 'ks2']);
    expect(posted).not.toMatch(/rivers|Quiet/);
    expect(consoleMessages).toEqual([]); // no CSP violation, no error
  });
});
