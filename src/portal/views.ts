/**
 * View models and rendering for the portal's EJS pages (views/portal/). Templates escape every
 * value with `<%= %>`; only trusted template partials are included unescaped.
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import ejs from 'ejs';

import type { SignedInUser } from './session.ts';

/** Directory of the portal templates. */
export const PORTAL_VIEWS_DIR = fileURLToPath(new URL('../../views/portal/', import.meta.url));

/** One entry of the main navigation (guide slide 18, "Home Page"). */
export interface NavItem {
  href: string;
  label: string;
  /** Shown to producers only, never to a delegate (a delegate cannot add delegates; the IdP would answer 403). */
  producersOnly?: boolean;
  /** The delegate permission the entry needs (issue 14): left out for a delegate without it. */
  permission?: DelegatePermission;
}

/** The permissions a producer gives a delegate (the `delegation.permissions` claim; issue 14 item 1). */
export type DelegatePermission = 'quote_enroll' | 'commissions_reporting' | 'view_hierarchy';

/**
 * Whether the person may use what needs `permission`: always for a producer acting for
 * themselves (no `delegation` claim); for a delegate, only when the ID token's
 * `delegation.permissions` lists it. No permission needed: true.
 */
export function mayUse(user: SignedInUser, permission: DelegatePermission | undefined): boolean {
  if (!permission) return true;
  const d = user.claims.delegation as { permissions?: unknown } | undefined;
  if (!d || typeof d !== 'object') return true;
  return Array.isArray(d.permissions) && d.permissions.includes(permission);
}

/** The portal's sections in the order the user guide lists them (slide 18). */
export const NAV_ITEMS: readonly NavItem[] = [
  { href: '/', label: 'Home' },
  { href: '/my-information', label: 'My Information' },
  { href: '/my-hierarchy', label: 'My Hierarchy' },
  { href: '/my-delegates', label: 'View/Add My Delegates', producersOnly: true },
  { href: '/quote-enroll', label: 'Quote & Enroll', permission: 'quote_enroll' },
  { href: '/commissions-reporting', label: 'Commissions & Reporting', permission: 'commissions_reporting' },
  { href: '/resources', label: 'Resources' },
  { href: '/report-issue', label: 'Report an Issue' },
];

/** A downstream application on Home (Quote & Enroll, Commissions & Reporting, …): its own relying party. */
export interface HomeLink {
  /** Label shown on Home and on its navigation entry (match a NAV_ITEMS label to take over that entry). */
  label: string;
  url: string;
  description: string;
  /** Open in a new tab (target=_blank rel=noopener). */
  newTab: boolean;
  /** The delegate permission the application needs; default: that of the navigation entry with the same label. */
  permission?: DelegatePermission;
}

/** The Home links the person may use (a delegate: those their permissions allow; issue 14). */
export function usableLinks(user: SignedInUser, links: readonly HomeLink[]): HomeLink[] {
  return links.filter((l) => mayUse(user, l.permission ?? NAV_ITEMS.find((n) => n.label === l.label)?.permission));
}

/** One entry of the Resources page. */
export interface ResourceLink {
  title: string;
  url: string;
  description: string;
  /** Heading the resource is listed under. */
  group: string;
}

/** Resources grouped by `group`, groups in first-seen order, for the Resources page. */
export function groupResources(resources: readonly ResourceLink[]): { id: string; name: string; items: ResourceLink[] }[] {
  const groups = new Map<string, ResourceLink[]>();
  for (const r of resources) groups.set(r.group, [...(groups.get(r.group) ?? []), r]);
  return [...groups].map(([name, items], i) => ({ id: `g${i}`, name, items }));
}

/** One row of the "My Information" panel; `value` undefined means the IdP did not release it. */
export interface Fact {
  label: string;
  value: string | undefined;
}

/** Fields every template may use (the layout partials read them). */
export interface BaseModel {
  title: string;
  productName: string;
  organizationName: string;
  user: { displayName: string } | null;
  csrfToken: string | null;
  nav: Array<NavItem & { current: boolean }>;
}

/** Branding, from PortalOptions only. */
export interface Branding {
  productName: string;
  organizationName: string;
}

function claimText(claims: Record<string, unknown>, name: string): string | undefined {
  const value = claims[name];
  if (typeof value === 'string') return value.trim() === '' ? undefined : value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return undefined;
}

/**
 * The person's display name: `given_name family_name` (OpenID Connect Core 1.0 §5.1), falling back
 * to `name`, then `preferred_username`, then `sub`.
 */
export function displayName(user: SignedInUser): string {
  const given = claimText(user.claims, 'given_name');
  const family = claimText(user.claims, 'family_name');
  const joined = [given, family].filter((part) => part !== undefined).join(' ');
  return joined || claimText(user.claims, 'name') || claimText(user.claims, 'preferred_username') || user.sub;
}

/**
 * The "My Information" panel (guide slide 18) from the user's claims: Name, Producer Number
 * (`producer_number`), NPN (`npn`), Email (`email`), Agency (`agency_name`) and Phone
 * (`phone_number`, only when released).
 */
export function myInformation(user: SignedInUser): Fact[] {
  const given = claimText(user.claims, 'given_name');
  const family = claimText(user.claims, 'family_name');
  const name = [given, family].filter((part) => part !== undefined).join(' ') || claimText(user.claims, 'name');
  // A delegate has no producer record of their own (issue 14): their name and email, and for whom they work.
  const forWhom = workingFor(user);
  const facts: Fact[] = forWhom
    ? [
      { label: 'Name', value: name },
      { label: 'Email', value: claimText(user.claims, 'email') },
      { label: 'Working for', value: `${forWhom.name} (${forWhom.producerNumber}), as a delegate` },
    ]
    : [
      { label: 'Name', value: name },
      { label: 'Producer Number', value: claimText(user.claims, 'producer_number') },
      { label: 'NPN', value: claimText(user.claims, 'npn') },
      { label: 'Email', value: claimText(user.claims, 'email') },
      { label: 'Agency', value: claimText(user.claims, 'agency_name') },
    ];
  const phone = claimText(user.claims, 'phone_number');
  if (phone !== undefined) facts.push({ label: 'Phone', value: phone });
  return facts;
}

/**
 * For whom a delegate works (issue 14): the ID token's `delegation` claim (`producer_number`,
 * `producer_name`, `permissions`: codes such as `view_hierarchy`), or undefined when the person
 * signed in as themselves.
 */
export function workingFor(user: SignedInUser): { name: string; producerNumber: string; permissions: string[] } | undefined {
  const d = user.claims.delegation as { producer_number?: unknown; producer_name?: unknown; permissions?: unknown } | undefined;
  if (!d || typeof d.producer_number !== 'string' || typeof d.producer_name !== 'string') return undefined;
  const permissions = Array.isArray(d.permissions) ? d.permissions.filter((p): p is string => typeof p === 'string') : [];
  return { name: d.producer_name, producerNumber: d.producer_number, permissions };
}

/**
 * "Agent Name / Producer ID" of a report (guide slide 19): the producer the report is about — the
 * signed-in producer, or for a delegate the producer they work for — and, for a delegate, who
 * reported it. `producerId` is the `producer_number` claim (never the account's `sub`); undefined
 * when the IdP did not release it.
 */
export function reportingAgent(user: SignedInUser): { name: string; producerId: string | undefined; reportedBy?: string; email?: string } {
  const email = claimText(user.claims, 'email');
  const forWhom = workingFor(user);
  if (forWhom) return { name: forWhom.name, producerId: forWhom.producerNumber, reportedBy: displayName(user), ...(email ? { email } : {}) };
  return { name: displayName(user), producerId: claimText(user.claims, 'producer_number'), ...(email ? { email } : {}) };
}

/**
 * Builds the fields the layout needs.
 * @param currentPath request path, to mark the current navigation entry with aria-current.
 * @param nav the navigation entries (default the portal's, {@link NAV_ITEMS}; empty: no navigation);
 *   entries marked `producersOnly` are left out for a delegate, and those whose `permission` the
 *   delegate was not given.
 */
export function baseModel(
  branding: Branding,
  title: string,
  user: SignedInUser | undefined,
  csrfToken: string | undefined,
  currentPath: string,
  nav: readonly NavItem[] = NAV_ITEMS,
): BaseModel {
  return {
    title,
    productName: branding.productName,
    organizationName: branding.organizationName,
    user: user ? { displayName: displayName(user) } : null,
    csrfToken: user && csrfToken ? csrfToken : null,
    nav: nav
      .filter((item) => !(item.producersOnly && user && workingFor(user)))
      .filter((item) => !(item.permission && user && !mayUse(user, item.permission)))
      .map((item) => ({ href: item.href, label: item.label, current: item.href === currentPath })),
  };
}

/**
 * Renders `views/portal/<view>.ejs` synchronously-compiled (`async: false`) and cached.
 * @returns the HTML document.
 * @throws whatever EJS throws for a missing template or a template error (a bug, answered with 500).
 */
export async function renderView(view: string, model: object): Promise<string> {
  return ejs.renderFile(path.join(PORTAL_VIEWS_DIR, `${view}.ejs`), model as ejs.Data, { async: false, cache: true });
}
