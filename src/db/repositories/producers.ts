import type { Kysely } from 'kysely';
import type { ProducerRecord } from '../../producers/records.ts';
import type { Database } from '../schema.ts';

type Row = Database['producer_records'];

/** A producer_records row (without timestamps) → the domain record. */
export function toRecord(r: Omit<Row, 'created_at' | 'updated_at'>): ProducerRecord {
  return {
    producerNumber: r.producer_number,
    npn: r.npn,
    firstName: r.first_name,
    lastName: r.last_name,
    agencyName: r.agency_name,
    email: r.email,
    mobilePhone: r.mobile_phone,
    businessZip: r.business_zip,
    bapZip: r.bap_zip,
    parentProducerNumber: r.parent_producer_number,
    status: r.status,
  };
}

/** The producer record with this 9-digit producer number, or undefined. */
export async function findProducer(db: Kysely<Database>, producerNumber: string): Promise<ProducerRecord | undefined> {
  const row = await db
    .selectFrom('producer_records')
    .select(['producer_number', 'npn', 'first_name', 'last_name', 'agency_name', 'email', 'mobile_phone', 'business_zip', 'bap_zip', 'parent_producer_number', 'status'])
    .where('producer_number', '=', producerNumber)
    .executeTakeFirst();
  return row ? toRecord(row) : undefined;
}

/**
 * Inserts or updates producer records by producer number (the caller supplies the transaction).
 * @returns counts of rows inserted and updated.
 */
export async function upsertProducers(db: Kysely<Database>, records: ProducerRecord[]): Promise<{ inserted: number; updated: number }> {
  if (records.length === 0) return { inserted: 0, updated: 0 };
  const existing = new Set<string>();
  for (let i = 0; i < records.length; i += 1000) {
    const chunk = records.slice(i, i + 1000).map((r) => r.producerNumber);
    const rows = await db.selectFrom('producer_records').select('producer_number').where('producer_number', 'in', chunk).execute();
    for (const row of rows) existing.add(row.producer_number);
  }
  for (const r of records) {
    const rest = {
      npn: r.npn,
      first_name: r.firstName,
      last_name: r.lastName,
      agency_name: r.agencyName,
      email: r.email,
      mobile_phone: r.mobilePhone,
      business_zip: r.businessZip,
      bap_zip: r.bapZip,
      parent_producer_number: r.parentProducerNumber,
      status: r.status,
    };
    await db
      .insertInto('producer_records')
      .values({ producer_number: r.producerNumber, ...rest })
      .onConflict((oc) => oc.column('producer_number').doUpdateSet({ ...rest, updated_at: new Date() }))
      .execute();
  }
  return { inserted: records.length - existing.size, updated: existing.size };
}

/** Every stored producer's parent (`parent_producer_number`, null for none), by producer number. */
export async function storedParents(db: Kysely<Database>): Promise<Map<string, string | null>> {
  const rows = await db.selectFrom('producer_records').select(['producer_number', 'parent_producer_number']).execute();
  return new Map(rows.map((r) => [r.producer_number, r.parent_producer_number]));
}
