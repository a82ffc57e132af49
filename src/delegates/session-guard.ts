import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { findAccountById, isActive, type Account } from '../db/repositories/accounts.ts';
import type { Services } from '../services.ts';

/**
 * The account signed in at the IdP in this browser (oidc-provider's session cookie), when it may
 * still sign in (active, producer record active, email confirmed); undefined otherwise.
 *
 * The delegates' pages (/delegates) are the IdP's own, protected by the IdP session the portal's
 * sign-in left (issue 14 item 1). Kept in this one file so it can give way to the shared guard of
 * the account pages (issue 14 item 6) once that lands.
 */
export async function idpSessionAccount(services: Pick<Services, 'db'>, provider: Provider, ctx: Context): Promise<Account | undefined> {
  const session = await provider.Session.get(ctx as never);
  const accountId = session?.accountId;
  if (!accountId) return undefined;
  const account = await findAccountById(services.db, accountId);
  return account && isActive(account) && account.emailVerifiedAt ? account : undefined;
}
