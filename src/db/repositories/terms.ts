import type { Kysely } from 'kysely';
import type { ReadCache } from '../change-feed.ts';
import type { Database } from '../schema.ts';

/** A published version of the Terms of Use. */
export interface Terms {
  version: string;
  body: string;
  publishedAt: Date;
}

/**
 * The active Terms of Use version (guide slide 3: "current active version will be displayed"), or
 * undefined. With `cache` (services.caches.terms) it is read from memory while the change feed
 * says the table did not change.
 */
export async function activeTerms(db: Kysely<Database>, cache?: ReadCache<Terms | undefined>): Promise<Terms | undefined> {
  const read = async () => {
    const row = await db.selectFrom('terms').selectAll().where('is_active', '=', true).executeTakeFirst();
    return row ? { version: row.version, body: row.body, publishedAt: new Date(row.published_at) } : undefined;
  };
  return cache ? cache.get('*', read) : read();
}

/**
 * One published Terms of Use version (any), or undefined when none: a cheap query that proves the
 * database answers with the application's tables in place (GET /health).
 * @throws the database's error when it does not answer.
 */
export async function anyTermsVersion(db: Kysely<Database>): Promise<string | undefined> {
  const rows = await db.selectFrom('terms').select('version').limit(1).execute();
  return rows[0]?.version;
}

/** Thrown when publishing a version that already exists. */
export class TermsVersionExistsError extends Error {}

/**
 * Publishes a new Terms of Use version and makes it the active one, in one transaction. Accounts
 * that accepted an older version must accept again at their next sign-in.
 * @throws TermsVersionExistsError when `version` was published before.
 */
export async function publishTerms(db: Kysely<Database>, version: string, body: string, at: Date): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const exists = await trx.selectFrom('terms').select('version').where('version', '=', version).executeTakeFirst();
    if (exists) throw new TermsVersionExistsError(`terms version ${version} already exists`);
    await trx.updateTable('terms').set({ is_active: false }).where('is_active', '=', true).execute();
    await trx.insertInto('terms').values({ version, body, published_at: at, is_active: true }).execute();
  });
}
