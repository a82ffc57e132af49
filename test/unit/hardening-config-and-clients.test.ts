/**
 * Issue 9 (hardening), items 5 and 15: settings are bounded by the schema, and registered client
 * URIs follow the OAuth 2.0 Security BCP (RFC 9700) and RFC 8252 for native apps.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { ConfigError, configSchema, loadConfig } from '../../src/config/index.ts';
import { formatDuration } from '../../src/i18n/messages.ts';
import { redirectUriProblem } from '../../src/oidc/clients.ts';

const dataDir = mkdtempSync(path.join(tmpdir(), 'pidp-bounds-'));

/** The names of the settings whose schema is a number (under `.default()` / `.optional()`). */
function numericSettings(): string[] {
  const inner = (t: z.ZodType): z.ZodType => {
    const def = (t as unknown as { _zod: { def: { type: string; innerType?: z.ZodType; in?: z.ZodType } } })._zod.def;
    if (def.innerType) return inner(def.innerType);
    if (def.type === 'pipe' && def.in) return inner(def.in);
    return t;
  };
  return Object.entries(configSchema.shape)
    .filter(([, t]) => (inner(t as z.ZodType) as unknown as { _zod: { def: { type: string } } })._zod.def.type === 'number')
    .map(([k]) => k);
}

function refusal(env: Record<string, string>): string {
  try {
    loadConfig({ DATA_DIR: dataDir, ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  return '';
}

describe('kind: every numeric setting is bounded by the schema (item 5)', () => {
  it('finds the numeric settings (the check below covers each)', () => {
    expect(numericSettings()).toEqual(expect.arrayContaining(['PORT', 'LOCKOUT_SECONDS', 'LOCKOUT_THRESHOLD', 'ARGON2_MEMORY_KIB', 'SMS_TIMEOUT_MS', 'KEYSTROKE_THRESHOLD', 'TRUST_PROXY_HOPS']));
  });

  for (const key of numericSettings()) {
    it(`${key}: 9007199254740991 and -1 are refused at start with a message naming ${key}`, () => {
      for (const value of ['9007199254740991', '-1', 'abc']) {
        const message = refusal({ [key]: value });
        expect(message, `${key}=${value}`).toMatch(new RegExp(`^\\s*${key}: `, 'm'));
      }
    });
  }

  it('LOCKOUT_SECONDS=9007199254740991 says the range and unit', () => {
    expect(refusal({ LOCKOUT_SECONDS: '9007199254740991' })).toContain('LOCKOUT_SECONDS: must be a whole number from 60 to 2592000 (seconds)');
  });

  it('values inside the bounds are accepted', () => {
    const c = loadConfig({ DATA_DIR: dataDir, LOCKOUT_SECONDS: '600', LOCKOUT_THRESHOLD: '3', TRUST_PROXY_HOPS: '2' });
    expect([c.LOCKOUT_SECONDS, c.LOCKOUT_THRESHOLD, c.TRUST_PROXY_HOPS]).toEqual([600, 3, 2]);
  });

  it('durations are written for people', () => {
    expect([1800, 600, 604800, 3600, 90, 86400, 7200].map(formatDuration)).toEqual(['30 minutes', '10 minutes', '7 days', '1 hour', '90 seconds', '1 day', '2 hours']);
  });
});

describe('kind: registered client URIs follow RFC 9700 / RFC 8252 (item 15)', () => {
  const accepted = [
    'https://app.example.com/callback',
    'https://app.example.com/cb?tenant=7',
    'https://app.example.com:8443/cb',
    'http://localhost:8123/cb',
    'http://127.0.0.1:49152/cb',
    'http://[::1]:8080/cb',
    'com.example.app:/oauth2redirect',
  ];
  const refused: [string, RegExp][] = [
    ['https://app.example.com/cb#frag', /fragment/],
    ['https://app.example.com/cb#', /fragment/],
    ['https://*.example.com/cb', /wildcard/],
    ['https://app.example.com/*', /wildcard/],
    ['http://app.example.com/cb', /http is allowed only/],
    ['http://localhost.evil.example/cb', /http is allowed only/],
    ['http://127.0.0.1.nip.io/cb', /http is allowed only/],
    ['https://user:pass@app.example.com/cb', /user information/],
    ['https://user@app.example.com/cb', /user information/],
    ['https://@app.example.com/cb', /user information/],
    ['javascript:alert(1)//', /javascript: scheme/],
    ['JavaScript:alert(1)', /javascript: scheme/],
    ['data:text/html,<script>alert(1)</script>', /data: scheme/],
    ['vbscript:msgbox', /vbscript: scheme/],
    ['file:///etc/passwd', /file: scheme/],
    ['ws://localhost/cb', /ws: scheme/],
    ['myapp:/cb', /reverse domain name/],
    ['com.example.app://cb', /one slash/],
    ['/relative/cb', /not an absolute URI/],
    ['app.example.com/cb', /not an absolute URI/],
    ['https:\\\\app.example.com\\cb', /backslash/],
    ['https://app.example.com/c b', /whitespace/],
    ['https://app.example.com/cb\n', /whitespace/],
    ['https://APP.example.com/cb', /canonical form; register https:\/\/app\.example\.com\/cb/],
    ['https://app.example.com/a/../cb', /canonical form; register https:\/\/app\.example\.com\/cb/],
    ['https://app.example.com', /canonical form; register https:\/\/app\.example\.com\//],
    ['https://app.example.com:443/cb', /canonical form/],
    ['', /empty/],
    [`https://app.example.com/${'a'.repeat(2001)}`, /at most 2000/],
  ];

  for (const uri of accepted) {
    it(`accepts ${uri}`, () => {
      expect(redirectUriProblem(uri)).toBeNull();
    });
  }
  for (const [uri, reason] of refused) {
    it(`refuses ${JSON.stringify(uri).slice(0, 80)}`, () => {
      expect(redirectUriProblem(uri)).toMatch(reason);
    });
  }
});
