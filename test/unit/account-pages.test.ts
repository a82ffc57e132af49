import { describe, expect, it } from 'vitest';
import { describeBrowser } from '../../src/account/browser.ts';
import { safeReturnPath } from '../../src/account/session.ts';

describe('My Account: the browser in plain words (from User-Agent, RFC 9110 §10.1.5)', () => {
  it.each([
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/139.0.0.0 Safari/537.36', 'Chrome 139 on Linux'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0', 'Firefox 128 on Windows'],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1', 'Safari 17 on iOS'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0', 'Microsoft Edge 131 on Windows'],
    [null, 'Unknown browser'],
    ['', 'Unknown browser'],
    ['journey-test', 'Unknown browser'],
  ])('%s → %s', (ua, words) => {
    expect(describeBrowser(ua)).toBe(words);
  });
});

describe('My Account: the path to come back to after signing in', () => {
  it.each([
    ['/account/devices', '/account/devices'],
    ['/account/devices?done=removed', '/account/devices?done=removed'],
    ['//evil.example/x', '/account'],
    ['/\\evil.example', '/account'],
    ['https://evil.example/', '/account'],
    ['/account/\nx', '/account'],
    [undefined, '/account'],
    [['/a', '/b'], '/account'],
    [`/${'a'.repeat(200)}`, '/account'],
  ])('%j → %s', (value, expected) => {
    expect(safeReturnPath(value)).toBe(expected);
  });
});
