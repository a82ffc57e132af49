import { z } from 'zod';
import { deviceCookieName, listDevices, revokeDevices } from '../mfa/trusted-devices.ts';
import { describeBrowser } from './browser.ts';
import { doneAt, formatTime, type AccountPage } from './pages.ts';

const PATH = '/account/devices';
const removeOne = z.object({ device: z.string({ error: 'form.required' }).trim().min(1, { error: 'form.required' }).max(64, { error: 'account.device_unknown' }) });

/**
 * "Remembered devices" (issue 14 item 6; guide slides 8-11 "Remember this device for 30 days"): the
 * account's devices that are neither revoked nor expired, each with its browser (from the user
 * agent it was remembered with), what it skips, when it was remembered and last used, and "This
 * browser" for the device of the browser that looks. "Remove" revokes one, "Remove all" every one
 * (src/mfa/trusted-devices.ts `revokeDevices`, audited `device.revoked`): the browser is asked for
 * its second factor (or shown the typing page) again at its next sign-in. Changes need a recent
 * sign-in (ACCOUNT_REAUTH_SECONDS). A device that is not the account's (or already removed): 404
 * with a message, nothing changed.
 */
export const devicesPage: AccountPage = {
  name: 'devices',
  path: PATH,
  view: 'idp/account-devices',
  postsHere: false,
  notices: { removed: 'account.device_removed', removed_all: 'account.devices_removed' },
  async model({ services, state, ctx }) {
    const production = services.config.NODE_ENV === 'production';
    const here = new Set((['mfa', 'typing'] as const).map((scope) => (ctx.cookies.get(deviceCookieName(production, scope)) ?? '').split('.')[0]).filter(Boolean));
    const now = services.clock.now().getTime();
    const devices = (await listDevices(services, state.accountId))
      .filter((d) => !d.revokedAt && d.expiresAt.getTime() > now)
      .map((d) => ({
        id: d.id,
        browser: describeBrowser(d.userAgent),
        skips: d.scope === 'typing' ? 'the typing-pattern page' : '"Verify your Account"',
        createdAt: formatTime(d.createdAt),
        lastUsedAt: d.lastUsedAt ? formatTime(d.lastUsedAt) : 'Not used since',
        expiresAt: formatTime(d.expiresAt),
        thisBrowser: here.has(d.id),
      }));
    return { title: 'Remembered devices', devices };
  },
  async submit() {
    return { kind: 'retry', status: 405 };
  },
  actions: [
    {
      path: `${PATH}/remove`,
      input: removeOne,
      async submit({ services, state, info }, input: z.infer<typeof removeOne>) {
        const n = await revokeDevices(services, state.accountId, input.device, info);
        if (n === 0) return { kind: 'retry', status: 404, formError: 'account.device_unknown' };
        return doneAt(PATH, 'removed');
      },
    },
    {
      path: `${PATH}/remove-all`,
      async submit({ services, state, info }) {
        await revokeDevices(services, state.accountId, undefined, info);
        return doneAt(PATH, 'removed_all');
      },
    },
  ],
};
