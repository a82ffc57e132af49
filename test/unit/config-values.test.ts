import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

/** Settings whose form the code relies on are refused at start, naming the setting (fresh-user findings). */
const base = { NODE_ENV: 'test', COOKIE_KEYS: 'test-cookie-key-0123456789abcdefghijklmnop', PORTAL_CLIENT_SECRET: 'portal-secret-0123456789abcdefghijklmnopqrstuvwxyz' };
const refused = (over: Record<string, string>) => {
  try {
    loadConfig({}, { ...base, ...over });
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  return undefined;
};

describe('settings are refused when the code cannot use them', () => {
  it.each([
    ['ISSUER', { ISSUER: 'https://idp.example.test/path' }],
    ['ISSUER', { ISSUER: 'https://idp.example.test/' }],
    ['ISSUER', { ISSUER: 'ftp://idp.example.test' }],
    ['DATABASE_URL', { DATABASE_URL: 'not a url' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://root@localhost/db' }],
    ['PORTAL_HOME_LINKS', { PORTAL_HOME_LINKS: '[{"label":"Quote & Enroll","url":"javascript:alert(1)"}]' }],
    ['PORTAL_RESOURCES', { PORTAL_RESOURCES: '[{"title":"t","url":"data:text/html,x","group":"g"}]' }],
    ['MAIL_FROM', { MAIL_FROM: 'not-an-email' }],
  ])('%s %j', (setting, over) => {
    const message = refused(over);
    expect(message).toBeDefined();
    expect(message).toContain(setting);
  });

  it.each<Record<string, string>>([
    { ISSUER: 'https://idp.example.test' },
    { DATABASE_URL: 'postgresql://u:p@db.internal:5432/idp' },
    { PORTAL_HOME_LINKS: '[{"label":"Quote & Enroll","url":"https://quote.example.test/"}]' },
    { MAIL_FROM: 'Producer Portal <no-reply@example.com>' },
  ])('accepts %j', (over) => {
    expect(refused(over)).toBeUndefined();
  });
});
