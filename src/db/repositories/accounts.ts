import { sql, type Insertable, type Kysely } from 'kysely';
import type { ProducerRecord } from '../../producers/records.ts';
import { toRecord } from './producers.ts';
import type { AccountsTable, Database } from '../schema.ts';

/**
 * A login, joined with the producer record it belongs to. A delegate's account (issue 14, `kind`
 * `delegate`) has no producer record of its own: `producerNumber` is null and `producer` holds the
 * person's own details from the account row (names, email, the mobile number they confirmed, `npn`
 * '', status `active`), so the mails and second factors of every account reach the person's own address.
 */
export interface Account {
  id: string;
  username: string;
  /** `producer`: the carrier's producer signs in as themselves; `delegate`: a person invited by producers. */
  kind: 'producer' | 'delegate';
  /** The producer number of a producer's account; null for a delegate. */
  producerNumber: string | null;
  passwordHash: string;
  passwordChangedAt: Date;
  emailVerifiedAt: Date | null;
  status: 'active' | 'disabled';
  failedLoginCount: number;
  lockedUntil: Date | null;
  termsVersion: string | null;
  termsAcceptedAt: Date | null;
  createdAt: Date;
  lastLoginAt: Date | null;
  producer: ProducerRecord;
}

const d = (v: Date | string | null): Date | null => (v === null ? null : new Date(v));

function baseQuery(db: Kysely<Database>) {
  return db
    .selectFrom('accounts as a')
    .leftJoin('producer_records as p', 'p.producer_number', 'a.producer_number')
    .select([
      'a.id', 'a.username', 'a.kind', 'a.producer_number', 'a.password_hash', 'a.password_changed_at', 'a.email_verified_at',
      'a.status', 'a.failed_login_count', 'a.locked_until', 'a.terms_version', 'a.terms_accepted_at', 'a.created_at',
      'a.last_login_at', 'p.agency_name', 'p.bap_zip', 'p.parent_producer_number',
      // A producer's mobile number is the record's; a delegate's, their own confirmed one (migration 0017).
      sql<string | null>`coalesce(p.mobile_phone, a.mobile_phone)`.as('mobile_phone'),
      // A delegate (no producer record): the person's own details from the account row.
      sql<string>`coalesce(p.npn, '')`.as('npn'),
      sql<string>`coalesce(p.first_name, a.first_name)`.as('first_name'),
      sql<string>`coalesce(p.last_name, a.last_name)`.as('last_name'),
      sql<string>`coalesce(p.email, a.email)`.as('email'),
      sql<string>`coalesce(p.business_zip, '')`.as('business_zip'),
      sql<'active' | 'inactive'>`coalesce(p.status, 'active')`.as('producer_status'),
    ]);
}

type JoinedRow = NonNullable<Awaited<ReturnType<ReturnType<typeof baseQuery>['executeTakeFirst']>>>;

function toAccount(r: JoinedRow): Account {
  return {
    id: r.id,
    username: r.username,
    kind: r.kind,
    producerNumber: r.producer_number,
    passwordHash: r.password_hash,
    passwordChangedAt: new Date(r.password_changed_at),
    emailVerifiedAt: d(r.email_verified_at),
    status: r.status,
    failedLoginCount: r.failed_login_count,
    lockedUntil: d(r.locked_until),
    termsVersion: r.terms_version,
    termsAcceptedAt: d(r.terms_accepted_at),
    createdAt: new Date(r.created_at),
    lastLoginAt: d(r.last_login_at),
    producer: toRecord({ ...r, producer_number: r.producer_number ?? '', status: r.producer_status }),
  };
}

/**
 * True when the account may sign in as far as the carrier is concerned: the account is active and
 * its producer record is active (a producer the carrier marks inactive can no longer sign in).
 */
export function isActive(account: Account): boolean {
  return account.status === 'active' && account.producer.status === 'active';
}

/** The account with this id (the OIDC `sub`), or undefined. */
export async function findAccountById(db: Kysely<Database>, id: string): Promise<Account | undefined> {
  const r = await baseQuery(db).where('a.id', '=', id).executeTakeFirst();
  return r ? toAccount(r) : undefined;
}

/** The account whose username equals `username` ignoring case, or undefined. */
export async function findAccountByUsername(db: Kysely<Database>, username: string): Promise<Account | undefined> {
  const r = await baseQuery(db).where('a.username_normalized', '=', username.toLowerCase()).executeTakeFirst();
  return r ? toAccount(r) : undefined;
}

/** True when a producer number already has an account. */
export async function producerHasAccount(db: Kysely<Database>, producerNumber: string): Promise<boolean> {
  const r = await db.selectFrom('accounts').select('id').where('producer_number', '=', producerNumber).executeTakeFirst();
  return !!r;
}

/** True when the username (ignoring case) is taken. */
export async function usernameTaken(db: Kysely<Database>, username: string): Promise<boolean> {
  const r = await db.selectFrom('accounts').select('id').where('username_normalized', '=', username.toLowerCase()).executeTakeFirst();
  return !!r;
}

/** Values of a new account. */
export interface NewAccount {
  id: string;
  username: string;
  producerNumber: string;
  passwordHash: string;
  termsVersion: string;
  now: Date;
}

/**
 * Inserts an account and its first password-history row (call inside the registration transaction).
 * @throws the database's unique-violation error (code 23505) when the username or producer is taken.
 */
export async function insertAccount(db: Kysely<Database>, a: NewAccount): Promise<void> {
  await insertWithHistory(db, a, { producer_number: a.producerNumber });
}

/** The account row of `a` (active, terms accepted at `now`) with `extra` columns, and its first password-history row. */
async function insertWithHistory(db: Kysely<Database>, a: Omit<NewAccount, 'producerNumber'>, extra: Partial<Insertable<AccountsTable>>): Promise<void> {
  await db
    .insertInto('accounts')
    .values({
      id: a.id,
      username: a.username,
      username_normalized: a.username.toLowerCase(),
      producer_number: null,
      password_hash: a.passwordHash,
      password_changed_at: a.now,
      status: 'active',
      terms_version: a.termsVersion,
      terms_accepted_at: a.now,
      created_at: a.now,
      ...extra,
    })
    .execute();
  await db.insertInto('password_history').values({ account_id: a.id, password_hash: a.passwordHash, created_at: a.now }).execute();
}

/**
 * Inserts a delegate's account (issue 14 item 2; call inside the transaction that accepts the
 * invitation): no producer record, the person's names and the invited email, confirmed at `now`
 * (the invitation link proved the address), and its first password-history row.
 * @throws the database's unique-violation error (code 23505) when the username is taken.
 */
export async function insertDelegateAccount(
  db: Kysely<Database>,
  a: Omit<NewAccount, 'producerNumber'> & { firstName: string; lastName: string; email: string },
): Promise<void> {
  await insertWithHistory(db, a, { kind: 'delegate', first_name: a.firstName, last_name: a.lastName, email: a.email, email_verified_at: a.now });
}

/** Records the acceptance of a Terms of Use version by an account. */
export async function acceptTerms(db: Kysely<Database>, accountId: string, version: string, at: Date): Promise<void> {
  await db.updateTable('accounts').set({ terms_version: version, terms_accepted_at: at }).where('id', '=', accountId).execute();
}

/** Replaces the stored hash of the same password (rehash with current argon2 parameters). */
export async function replacePasswordHash(db: Kysely<Database>, accountId: string, phc: string): Promise<void> {
  await db.updateTable('accounts').set({ password_hash: phc }).where('id', '=', accountId).execute();
}

/** The ids of the producer accounts of these producer numbers (one query: pass at most about 1000). */
export async function accountIdsOfProducers(db: Kysely<Database>, producerNumbers: readonly string[]): Promise<string[]> {
  const rows = await db.selectFrom('accounts').select('id').where('producer_number', 'in', [...producerNumbers]).execute();
  return rows.map((r) => r.id);
}

/**
 * Sets the account's status (`active` | `disabled`) and nothing else. To disable an account so
 * that its sessions and tokens end too, use `changeAccountStatus` (src/oidc/revocation.ts).
 */
export async function setAccountStatus(db: Kysely<Database>, accountId: string, status: 'active' | 'disabled'): Promise<void> {
  await db.updateTable('accounts').set({ status }).where('id', '=', accountId).execute();
}

// ---- account recovery (guide slides 12-17; src/flows/recovery) ----

/**
 * Every account whose producer record carries `email`, compared ignoring case and surrounding
 * spaces (Forgot Username, guide slides 12-13), oldest first.
 * @returns accounts (any status), possibly empty.
 */
export async function findAccountsByEmail(db: Kysely<Database>, email: string): Promise<Account[]> {
  const rows = await baseQuery(db)
    .where(sql<string>`lower(btrim(coalesce(p.email, a.email)))`, '=', email.trim().toLowerCase())
    .orderBy('a.created_at')
    .orderBy('a.id')
    .execute();
  return rows.map(toAccount);
}

/**
 * The account's most recent password hashes (PHC strings), newest first: the rows of
 * `password_history` (the current password included, as every change inserts its hash).
 * @param depth how many to return (guide slide 17: the 10 previous passwords).
 */
export async function recentPasswordHashes(db: Kysely<Database>, accountId: string, depth: number): Promise<string[]> {
  const rows = await db
    .selectFrom('password_history')
    .select('password_hash')
    .where('account_id', '=', accountId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(depth)
    .execute();
  return rows.map((r) => r.password_hash);
}

/**
 * Sets a new password (call inside a transaction): the hash and `password_changed_at`, clears the
 * lockout (failed_login_count 0, locked_until null), marks the email verified when `emailProven`
 * (a code sent to it was entered), appends the hash to `password_history` and deletes all but the
 * newest `keep` history rows.
 * @param phc the new argon2id PHC string.
 * @returns `wasLocked`: true when the account was locked at `now` before this call.
 */
export async function setPasswordWithHistory(
  db: Kysely<Database>,
  accountId: string,
  phc: string,
  now: Date,
  opts: { keep: number; emailProven: boolean },
): Promise<{ wasLocked: boolean }> {
  const before = await db.selectFrom('accounts').select('locked_until').where('id', '=', accountId).executeTakeFirst();
  await db
    .updateTable('accounts')
    .set({
      password_hash: phc,
      password_changed_at: now,
      failed_login_count: 0,
      locked_until: null,
      ...(opts.emailProven ? { email_verified_at: sql<Date>`coalesce(email_verified_at, ${now})` } : {}),
    })
    .where('id', '=', accountId)
    .execute();
  await db.insertInto('password_history').values({ account_id: accountId, password_hash: phc, created_at: now }).execute();
  const kept = db
    .selectFrom('password_history')
    .select('id')
    .where('account_id', '=', accountId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(Math.max(1, opts.keep));
  await db.deleteFrom('password_history').where('account_id', '=', accountId).where('id', 'not in', kept).execute();
  const lockedUntil = before?.locked_until ? new Date(before.locked_until) : null;
  return { wasLocked: !!lockedUntil && lockedUntil.getTime() > now.getTime() };
}

/**
 * Unlocks an account (failed_login_count 0, locked_until null), as Forgot Username's unlock link
 * and a completed Forgot Password do (guide slides 12 and 14: "select the Forgot Username or Forgot
 * Password hyperlinks to unlock their account").
 * @returns true when the account was locked at `now`.
 */
export async function unlockAccount(db: Kysely<Database>, accountId: string, now: Date): Promise<boolean> {
  const before = await db.selectFrom('accounts').select('locked_until').where('id', '=', accountId).executeTakeFirst();
  await db.updateTable('accounts').set({ failed_login_count: 0, locked_until: null }).where('id', '=', accountId).execute();
  return !!before?.locked_until && new Date(before.locked_until).getTime() > now.getTime();
}

/**
 * The contact details of one active account's producer record, chosen by rendezvous hashing on
 * `seed`: the account whose `md5(seed || id)` is smallest (the same seed picks the same record while
 * the set of active accounts stays the same; a new account changes the pick with probability 1/n).
 * @returns the record's email and mobile phone, or undefined when there is no active account.
 */
export async function pickActiveContact(db: Kysely<Database>, seed: string): Promise<{ email: string; mobilePhone: string | null } | undefined> {
  const row = await db
    .selectFrom('accounts as a')
    .innerJoin('producer_records as p', 'p.producer_number', 'a.producer_number')
    .select(['p.email', 'p.mobile_phone'])
    .where('a.status', '=', 'active')
    .orderBy(sql`md5(${seed} || a.id::text)`)
    .limit(1)
    .executeTakeFirst();
  return row ? { email: row.email, mobilePhone: row.mobile_phone } : undefined;
}

/**
 * Locks the account's row until the transaction ends (`SELECT … FOR UPDATE`), so that work that
 * counts or changes per account (sends, a password change) runs one at a time.
 * @param trx a transaction.
 * @returns the row's `status` and `password_changed_at`, or undefined when there is no such account.
 */
export async function lockAccountRow(trx: Kysely<Database>, accountId: string): Promise<{ status: string; passwordChangedAt: Date } | undefined> {
  const row = await trx.selectFrom('accounts').select(['status', 'password_changed_at']).where('id', '=', accountId).forUpdate().executeTakeFirst();
  return row ? { status: row.status, passwordChangedAt: new Date(row.password_changed_at) } : undefined;
}

/** Marks the account's email address confirmed at `now` (once: a confirmed address keeps its first time). */
export async function markEmailVerified(db: Kysely<Database>, accountId: string, now: Date): Promise<void> {
  await db.updateTable('accounts').set({ email_verified_at: now }).where('id', '=', accountId).where('email_verified_at', 'is', null).execute();
}

/**
 * Sets (or, with null, removes) a delegate's own mobile number (E.164), confirmed at `at` by a code
 * texted to it (src/account/mobile.ts). A producer's account is left unchanged: their number is the
 * producer record's.
 * @returns true when the account is a delegate's and was changed.
 */
export async function setOwnMobile(db: Kysely<Database>, accountId: string, e164: string | null, at: Date): Promise<boolean> {
  const res = await db.updateTable('accounts')
    .set({ mobile_phone: e164, mobile_verified_at: e164 ? at : null })
    .where('id', '=', accountId)
    .where('kind', '=', 'delegate')
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}
