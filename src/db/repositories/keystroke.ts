import type { Kysely } from 'kysely';
import type { Database } from '../schema.ts';

/**
 * The typing pattern of an account (tables `keystroke_profiles` and `keystroke_presented`, one
 * aggregate): the template for one sentence (JSON, src/keystroke/template.ts) and the samples
 * presented at verification, kept for the replay defence. Timing features only, never the text.
 */
export interface ProfileRow {
  sentence: string;
  template: unknown;
  updatedAt: Date;
}

/** The account's stored template (any sentence), or undefined. */
export async function findProfile(db: Kysely<Database>, accountId: string): Promise<ProfileRow | undefined> {
  const row = await db.selectFrom('keystroke_profiles').select(['sentence', 'template', 'updated_at']).where('account_id', '=', accountId).executeTakeFirst();
  return row ? { sentence: row.sentence, template: row.template, updatedAt: new Date(row.updated_at) } : undefined;
}

/** Stores the account's template for `sentence` (created, or replaced). */
export async function saveProfile(db: Kysely<Database>, accountId: string, sentence: string, template: unknown, now: Date): Promise<void> {
  const json = JSON.stringify(template);
  await db
    .insertInto('keystroke_profiles')
    .values({ account_id: accountId, sentence, template: json, created_at: now, updated_at: now })
    .onConflict((oc) => oc.column('account_id').doUpdateSet({ sentence, template: json, updated_at: now }))
    .execute();
}

/**
 * Removes the account's template and presented samples.
 * @returns true when there was a template.
 */
export async function deleteProfile(db: Kysely<Database>, accountId: string): Promise<boolean> {
  const res = await db.deleteFrom('keystroke_profiles').where('account_id', '=', accountId).executeTakeFirst();
  await db.deleteFrom('keystroke_presented').where('account_id', '=', accountId).execute();
  return Number(res.numDeletedRows) > 0;
}

/** The account's last `limit` presented samples (parsed JSON), newest first. */
export async function recentPresented(db: Kysely<Database>, accountId: string, limit: number): Promise<unknown[]> {
  const rows = await db.selectFrom('keystroke_presented').select('sample').where('account_id', '=', accountId).orderBy('id', 'desc').limit(limit).execute();
  return rows.map((r) => r.sample);
}

/** Records presented samples at `at`, keeping the account's last `keep` (older ones are deleted). */
export async function addPresented(db: Kysely<Database>, accountId: string, samples: unknown[], at: Date, keep: number): Promise<void> {
  if (!samples.length) return;
  await db.insertInto('keystroke_presented').values(samples.map((s) => ({ account_id: accountId, sample: JSON.stringify(s), at }))).execute();
  const oldest = await db.selectFrom('keystroke_presented').select('id').where('account_id', '=', accountId).orderBy('id', 'desc').offset(keep).limit(1).executeTakeFirst();
  if (oldest) await db.deleteFrom('keystroke_presented').where('account_id', '=', accountId).where('id', '<=', oldest.id).execute();
}

/** Deletes presented samples older than `before` (the purge job). @returns how many. */
export async function purgePresented(db: Kysely<Database>, before: Date): Promise<bigint> {
  return (await db.deleteFrom('keystroke_presented').where('at', '<', before).executeTakeFirstOrThrow()).numDeletedRows;
}
