import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

const dataDir = () => mkdtempSync(path.join(tmpdir(), 'pidp-config-'));

describe('configuration', () => {
  it('uses documented defaults in development, with generated secrets kept in DATA_DIR', () => {
    const dir = dataDir();
    const c = loadConfig({ DATA_DIR: dir });
    expect(c.PORT).toBe(3000);
    expect(c.ISSUER).toBe('http://localhost:3000');
    expect(c.PORTAL_URL).toBe('http://localhost:3001');
    expect(c.embeddedDatabase).toBe(true);
    expect(c.ARGON2_MEMORY_KIB).toBeGreaterThanOrEqual(19456);
    expect(c.LOCKOUT_THRESHOLD).toBe(5);
    expect(c.LOCKOUT_SECONDS).toBe(1800);
    expect(c.EMAIL_VERIFICATION_TTL_SECONDS).toBe(7 * 24 * 3600);
    expect(c.COOKIE_KEYS[0].length).toBeGreaterThanOrEqual(32);
    expect(loadConfig({ DATA_DIR: dir }).COOKIE_KEYS).toEqual(c.COOKIE_KEYS); // kept across restarts
  });

  it('production refuses development defaults and names each missing setting', () => {
    try {
      loadConfig({ NODE_ENV: 'production', DATA_DIR: dataDir() });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const msg = (err as Error).message;
      for (const name of ['DATABASE_URL', 'SMTP_URL', 'COOKIE_KEYS', 'PORTAL_CLIENT_SECRET', 'ISSUER', 'SIGNING_KEYS_ENCRYPTION_KEY', 'PORTAL_URL']) expect(msg).toContain(name);
    }
  });

  it('production starts with every setting given', () => {
    const c = loadConfig({
      NODE_ENV: 'production', DATABASE_URL: 'postgres://db/idp', SMTP_URL: 'smtps://u:p@mail.example.com', ISSUER: 'https://login.example.com',
      COOKIE_KEYS: 'k'.repeat(40), PORTAL_CLIENT_SECRET: 's'.repeat(40), SIGNING_KEYS_ENCRYPTION_KEY: 'e'.repeat(40), SMS_WEBHOOK_URL: 'https://sms.example.com/send', SMS_WEBHOOK_SECRET: 'w'.repeat(40), PORTAL_URL: 'https://portal.example.com', DATA_DIR: dataDir(),
    });
    expect(c.SEED_DEMO).toBe(false);
    expect(c.embeddedDatabase).toBe(false);
  });

  it('production wants the portal (and an enabled example application) at https:// addresses', () => {
    const base = {
      NODE_ENV: 'production', DATABASE_URL: 'postgres://db/idp', SMTP_URL: 'smtps://u:p@mail.example.com', ISSUER: 'https://login.example.com',
      COOKIE_KEYS: 'k'.repeat(40), PORTAL_CLIENT_SECRET: 's'.repeat(40), SIGNING_KEYS_ENCRYPTION_KEY: 'e'.repeat(40), SMS_WEBHOOK_URL: 'https://sms.example.com/send', SMS_WEBHOOK_SECRET: 'w'.repeat(40), DATA_DIR: dataDir(),
    };
    expect(() => loadConfig(base)).toThrow(/PORTAL_URL \(the portal's https:\/\/ address/);
    expect(() => loadConfig({ ...base, PORTAL_URL: 'http://portal.example.com' })).toThrow(/PORTAL_URL must be an https:\/\/ URL in production/);
    const app = { ...base, PORTAL_URL: 'https://portal.example.com', EXAMPLE_APP_ENABLED: 'true', EXAMPLE_APP_CLIENT_SECRET: 'x'.repeat(40) };
    expect(() => loadConfig(app)).toThrow(/EXAMPLE_APP_URL must be an https:\/\/ URL in production/);
    expect(loadConfig({ ...app, EXAMPLE_APP_URL: 'https://quote.example.com' }).EXAMPLE_APP_ENABLED).toBe(true);
  });

  it('the example application: on in development with its URL following EXAMPLE_APP_PORT unless set, a generated client secret kept in DATA_DIR; off in test and production unless asked', () => {
    const dir = dataDir();
    const dev = loadConfig({ DATA_DIR: dir });
    expect(dev.EXAMPLE_APP_ENABLED).toBe(true);
    expect(dev.EXAMPLE_APP_PORT).toBe(3002);
    expect(dev.EXAMPLE_APP_URL).toBe('http://localhost:3002');
    expect(dev.EXAMPLE_APP_CLIENT_SECRET.length).toBeGreaterThanOrEqual(32);
    expect(dev.EXAMPLE_APP_CLIENT_SECRET).not.toBe(dev.PORTAL_CLIENT_SECRET);
    expect(loadConfig({ DATA_DIR: dir }).EXAMPLE_APP_CLIENT_SECRET).toBe(dev.EXAMPLE_APP_CLIENT_SECRET);
    expect(loadConfig({ DATA_DIR: dir, EXAMPLE_APP_PORT: '4102' }).EXAMPLE_APP_URL).toBe('http://localhost:4102');
    expect(loadConfig({ DATA_DIR: dir, EXAMPLE_APP_PORT: '4102', EXAMPLE_APP_URL: 'https://quote.example.test' }).EXAMPLE_APP_URL).toBe('https://quote.example.test');
    expect(loadConfig({ DATA_DIR: dir, EXAMPLE_APP_ENABLED: 'false' }).EXAMPLE_APP_ENABLED).toBe(false);
    expect(loadConfig({ DATA_DIR: dir, NODE_ENV: 'test' }).EXAMPLE_APP_ENABLED).toBe(false);
    expect(loadConfig({ DATA_DIR: dir, PORTAL_ENABLED: 'false' }).EXAMPLE_APP_ENABLED).toBe(false);
    expect(() => loadConfig({ DATA_DIR: dir, EXAMPLE_APP_URL: 'http://localhost:3002/quote' })).toThrow(/EXAMPLE_APP_URL/);

    const production = {
      NODE_ENV: 'production', DATABASE_URL: 'postgres://db/idp', SMTP_URL: 'smtps://u:p@mail.example.com', ISSUER: 'https://login.example.com',
      COOKIE_KEYS: 'k'.repeat(40), PORTAL_CLIENT_SECRET: 's'.repeat(40), SIGNING_KEYS_ENCRYPTION_KEY: 'e'.repeat(40), SMS_WEBHOOK_URL: 'https://sms.example.com/send', SMS_WEBHOOK_SECRET: 'w'.repeat(40), PORTAL_URL: 'https://portal.example.com', DATA_DIR: dataDir(),
    };
    expect(loadConfig(production).EXAMPLE_APP_ENABLED).toBe(false);
    expect(() => loadConfig({ ...production, EXAMPLE_APP_ENABLED: 'true' })).toThrow(/EXAMPLE_APP_CLIENT_SECRET/);
    expect(loadConfig({ ...production, EXAMPLE_APP_ENABLED: 'true', EXAMPLE_APP_CLIENT_SECRET: 'x'.repeat(40), EXAMPLE_APP_URL: 'https://quote.example.com' }).EXAMPLE_APP_ENABLED).toBe(true);
  });

  it('rejects invalid values with the key name', () => {
    expect(() => loadConfig({ PORT: 'abc', DATA_DIR: dataDir() })).toThrow(/PORT/);
    expect(() => loadConfig({ ARGON2_MEMORY_KIB: '1024', DATA_DIR: dataDir() })).toThrow(/ARGON2_MEMORY_KIB/);
    expect(() => loadConfig({ SMTP_URL: 'http://x', DATA_DIR: dataDir() })).toThrow(/SMTP_URL/);
  });
});
