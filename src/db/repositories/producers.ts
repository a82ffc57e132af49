import { sql, type Kysely } from 'kysely';
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

/** Which of these producer numbers have a producer record (read 1000 at a time). */
export async function existingProducerNumbers(db: Kysely<Database>, producerNumbers: readonly string[]): Promise<Set<string>> {
  const existing = new Set<string>();
  for (let i = 0; i < producerNumbers.length; i += 1000) {
    const rows = await db.selectFrom('producer_records').select('producer_number').where('producer_number', 'in', producerNumbers.slice(i, i + 1000)).execute();
    for (const row of rows) existing.add(row.producer_number);
  }
  return existing;
}

/**
 * Inserts or updates producer records by producer number (the caller supplies the transaction).
 * @returns counts of rows inserted and updated.
 */
export async function upsertProducers(db: Kysely<Database>, records: ProducerRecord[]): Promise<{ inserted: number; updated: number }> {
  if (records.length === 0) return { inserted: 0, updated: 0 };
  const existing = await existingProducerNumbers(db, records.map((r) => r.producerNumber));
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

/** The columns of a producer record that the hierarchy shows (no contact data). */
export type HierarchyRow = Pick<Row, 'producer_number' | 'npn' | 'first_name' | 'last_name' | 'agency_name' | 'status' | 'parent_producer_number'>;

const HIERARCHY_COLUMNS = ['producer_number', 'npn', 'first_name', 'last_name', 'agency_name', 'status', 'parent_producer_number'] as const;

/** The hierarchy columns of the producer record with this producer number, or undefined. */
export async function hierarchyRecord(db: Kysely<Database>, producerNumber: string): Promise<HierarchyRow | undefined> {
  return db.selectFrom('producer_records').select(HIERARCHY_COLUMNS).where('producer_number', '=', producerNumber).executeTakeFirst();
}

/**
 * One page of a producer's downline: every producer whose `parent_producer_number` chain reaches
 * `producerNumber`, walked by a recursive query that skips cycles and stops at `maxDepth` levels,
 * ordered by depth (1: direct), last name, first name, producer number.
 * @param page `offset` (0-based) and `limit` (rows).
 * @returns the downline's size (`total`) and the page's rows with their depth.
 */
export async function downlinePage(db: Kysely<Database>, producerNumber: string, maxDepth: number, page: { offset: number; limit: number }): Promise<{ total: number; rows: (HierarchyRow & { depth: number })[] }> {
  const down = sql`
    WITH RECURSIVE down(producer_number, depth, path) AS (
      SELECT producer_number, 1, ARRAY[${producerNumber}::text, producer_number::text]
        FROM producer_records WHERE parent_producer_number = ${producerNumber}
      UNION ALL
      SELECT p.producer_number, d.depth + 1, d.path || p.producer_number::text
        FROM producer_records p JOIN down d ON p.parent_producer_number = d.producer_number
       WHERE NOT (p.producer_number = ANY (d.path)) AND d.depth < ${maxDepth}
    )`;
  const total = await sql<{ n: number }>`${down} SELECT count(*)::int AS n FROM down`.execute(db);
  const items = await sql<HierarchyRow & { depth: number }>`${down}
    SELECT r.producer_number, r.npn, r.first_name, r.last_name, r.agency_name, r.status, r.parent_producer_number, d.depth
      FROM down d JOIN producer_records r ON r.producer_number = d.producer_number
     ORDER BY d.depth, r.last_name, r.first_name, r.producer_number
     LIMIT ${page.limit} OFFSET ${page.offset}`.execute(db);
  return { total: total.rows[0]?.n ?? 0, rows: items.rows.map((r) => ({ ...r, depth: Number(r.depth) })) };
}
