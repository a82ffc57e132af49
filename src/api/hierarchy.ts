import type { Kysely } from 'kysely';
import { downlinePage, hierarchyRecord, type HierarchyRow } from '../db/repositories/producers.ts';
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

const view = (r: HierarchyRow): HierarchyProducer => ({
  producer_number: r.producer_number,
  npn: r.npn,
  name: `${r.first_name} ${r.last_name}`,
  agency_name: r.agency_name,
  status: r.status,
  parent_producer_number: r.parent_producer_number,
});

/**
 * The upline and (one page of) the downline of a producer, from the carrier's producer records
 * (`parent_producer_number`), guarded against cycles and {@link MAX_HIERARCHY_DEPTH} levels.
 * @param page `offset` (0-based) and `limit` (1 to 200) of the downline
 * @returns undefined when the producer number is not on record.
 */
export async function producerHierarchy(db: Kysely<Database>, producerNumber: string, page: { offset: number; limit: number }): Promise<Hierarchy | undefined> {
  const self = await hierarchyRecord(db, producerNumber);
  if (!self) return undefined;
  const upline: HierarchyProducer[] = [];
  const seen = new Set([self.producer_number]);
  let parent = self.parent_producer_number;
  while (parent && !seen.has(parent) && upline.length < MAX_HIERARCHY_DEPTH) {
    seen.add(parent);
    const row = await hierarchyRecord(db, parent);
    if (!row) break;
    upline.push(view(row));
    parent = row.parent_producer_number;
  }
  const { total, rows } = await downlinePage(db, producerNumber, MAX_HIERARCHY_DEPTH, page);
  return {
    producer: view(self),
    upline,
    downline: { total, offset: page.offset, limit: page.limit, items: rows.map((r) => ({ ...view(r), depth: r.depth })) },
  };
}
