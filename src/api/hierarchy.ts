import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';

/** One producer as the hierarchy shows it (the carrier's producer record; no contact data). */
export interface HierarchyProducer {
  producer_number: string;
  npn: string;
  name: string;
  agency_name: string | null;
  status: 'active' | 'inactive';
  parent_producer_number: string | null;
}

/** A producer of the downline, with how many levels below the producer it is (1: direct). */
export interface DownlineProducer extends HierarchyProducer {
  depth: number;
}

/** What `GET /api/producers/me/hierarchy` answers (README "Home › My Hierarchy"). */
export interface Hierarchy {
  producer: HierarchyProducer;
  /** Parent, grandparent, … up to the top (nearest first). */
  upline: HierarchyProducer[];
  /** Every producer whose parent chain reaches this one, by depth then name; one page of it. */
  downline: { total: number; offset: number; limit: number; items: DownlineProducer[] };
}

/** Deepest hierarchy walked, levels (a guard: imports refuse cycles, and real hierarchies are shallow). */
export const MAX_HIERARCHY_DEPTH = 50;

type Row = { producer_number: string; npn: string; first_name: string; last_name: string; agency_name: string | null; status: 'active' | 'inactive'; parent_producer_number: string | null };

const view = (r: Row): HierarchyProducer => ({
  producer_number: r.producer_number,
  npn: r.npn,
  name: `${r.first_name} ${r.last_name}`,
  agency_name: r.agency_name,
  status: r.status,
  parent_producer_number: r.parent_producer_number,
});

const COLUMNS = ['producer_number', 'npn', 'first_name', 'last_name', 'agency_name', 'status', 'parent_producer_number'] as const;

/**
 * The upline and (one page of) the downline of a producer, from the carrier's producer records
 * (`parent_producer_number`), guarded against cycles and {@link MAX_HIERARCHY_DEPTH} levels.
 * @param page `offset` (0-based) and `limit` (1 to 200) of the downline
 * @returns undefined when the producer number is not on record.
 */
export async function producerHierarchy(db: Kysely<Database>, producerNumber: string, page: { offset: number; limit: number }): Promise<Hierarchy | undefined> {
  const self = await db.selectFrom('producer_records').select(COLUMNS).where('producer_number', '=', producerNumber).executeTakeFirst();
  if (!self) return undefined;
  const upline: HierarchyProducer[] = [];
  const seen = new Set([self.producer_number]);
  let parent = self.parent_producer_number;
  while (parent && !seen.has(parent) && upline.length < MAX_HIERARCHY_DEPTH) {
    seen.add(parent);
    const row = await db.selectFrom('producer_records').select(COLUMNS).where('producer_number', '=', parent).executeTakeFirst();
    if (!row) break;
    upline.push(view(row));
    parent = row.parent_producer_number;
  }
  const down = sql`
    WITH RECURSIVE down(producer_number, depth, path) AS (
      SELECT producer_number, 1, ARRAY[${producerNumber}::text, producer_number::text]
        FROM producer_records WHERE parent_producer_number = ${producerNumber}
      UNION ALL
      SELECT p.producer_number, d.depth + 1, d.path || p.producer_number::text
        FROM producer_records p JOIN down d ON p.parent_producer_number = d.producer_number
       WHERE NOT (p.producer_number = ANY (d.path)) AND d.depth < ${MAX_HIERARCHY_DEPTH}
    )`;
  const total = await sql<{ n: number }>`${down} SELECT count(*)::int AS n FROM down`.execute(db);
  const items = await sql<Row & { depth: number }>`${down}
    SELECT r.producer_number, r.npn, r.first_name, r.last_name, r.agency_name, r.status, r.parent_producer_number, d.depth
      FROM down d JOIN producer_records r ON r.producer_number = d.producer_number
     ORDER BY d.depth, r.last_name, r.first_name, r.producer_number
     LIMIT ${page.limit} OFFSET ${page.offset}`.execute(db);
  return {
    producer: view(self),
    upline,
    downline: { total: total.rows[0]?.n ?? 0, offset: page.offset, limit: page.limit, items: items.rows.map((r) => ({ ...view(r), depth: Number(r.depth) })) },
  };
}
