import type { Kysely } from 'kysely';

/**
 * A delegate's own mobile number (issue 14 item 3: "SMS only where the delegate gave a mobile
 * number and confirmed it with a code"): `accounts.mobile_phone` (E.164) is written only once a
 * code texted to it was entered (My Account → Mobile number, src/account/mobile.ts), with the time
 * in `mobile_verified_at`. A producer's mobile number stays on the producer record.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('accounts').addColumn('mobile_phone', 'text').addColumn('mobile_verified_at', 'timestamptz').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('accounts').dropColumn('mobile_verified_at').dropColumn('mobile_phone').execute();
}
