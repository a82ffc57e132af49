import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheTemplates, render, viewsDir } from '../../src/http/render.ts';

const name = `idp/cache-test-${randomBytes(4).toString('hex')}`;
const file = path.join(viewsDir, `${name}.ejs`);
afterAll(() => {
  rmSync(file, { force: true });
  cacheTemplates(false);
});

/** Renders the throwaway view and returns the body. */
async function page(): Promise<string> {
  const headers: Record<string, string> = {};
  const ctx = { state: { pageGlobals: { organizationName: 'O', productName: 'P', helpDeskPhone: '1', supportEmail: 's@example.com' } }, set: (k: string, v: string) => { headers[k] = v; } } as unknown as Context;
  await render(ctx, name);
  return String(ctx.body);
}

describe('EJS templates (issue 12)', () => {
  it('are compiled once when caching is on (outside development): an edited file is not read again', async () => {
    cacheTemplates(true);
    writeFileSync(file, '<p>first <%= productName %></p>');
    expect(await page()).toBe('<p>first P</p>');
    writeFileSync(file, '<p>second</p>');
    expect(await page()).toBe('<p>first P</p>');
  });

  it('are read at every render in development, so an edited view shows at once', async () => {
    cacheTemplates(false);
    writeFileSync(file, '<p>third</p>');
    expect(await page()).toBe('<p>third</p>');
  });
});
