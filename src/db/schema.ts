import type { ColumnType, Generated } from 'kysely';
import type { PortalSessionDatabase } from '../portal/session.ts';

/** Table types for Kysely (the application's view; migrations use Kysely<any>). */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T = Record<string, unknown>> = ColumnType<T, string, string>;

export interface ProducerRecordsTable {
  producer_number: string;
  npn: string;
  first_name: string;
  last_name: string;
  agency_name: string | null;
  email: string;
  mobile_phone: string | null;
  business_zip: string;
  bap_zip: string | null;
  parent_producer_number: string | null;
  status: 'active' | 'inactive';
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface TermsTable {
  version: string;
  body: string;
  published_at: Timestamp;
  is_active: boolean;
}

export interface AccountsTable {
  id: string;
  username: string;
  username_normalized: string;
  /** `producer` or `delegate` (migration 0014); a delegate has no producer record. */
  kind: Generated<'producer' | 'delegate'>;
  producer_number: string | null;
  /** A delegate's own names and email (null for a producer: those are on the producer record). */
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  password_hash: string;
  password_changed_at: Timestamp;
  email_verified_at: Timestamp | null;
  status: 'active' | 'disabled';
  failed_login_count: Generated<number>;
  locked_until: Timestamp | null;
  terms_version: string | null;
  terms_accepted_at: Timestamp | null;
  created_at: Timestamp;
  last_login_at: Timestamp | null;
  /** A delegate's own mobile number, E.164, written once confirmed by a texted code (migration 0017). */
  mobile_phone: ColumnType<string | null, string | null | undefined, string | null>;
  mobile_verified_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface PasswordHistoryTable {
  id: Generated<number>;
  account_id: string;
  password_hash: string;
  created_at: Timestamp;
}

export interface FlowsTable {
  id_hash: string;
  kind: string;
  state: Json;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export interface OidcPayloadsTable {
  model: string;
  id: string;
  payload: Json;
  grant_id: string | null;
  user_code: string | null;
  uid: string | null;
  expires_at: Timestamp | null;
  consumed_at: Timestamp | null;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  private_jwk: Json;
  created_at: Timestamp;
  retired_at: Timestamp | null;
  /** When it stopped signing (a rotation); it stays published until retired_at. */
  superseded_at: Timestamp | null;
}

export interface AuditEventsTable {
  id: Generated<number>;
  at: Timestamp;
  type: string;
  account_id: string | null;
  client_id: string | null;
  ip: string | null;
  user_agent: string | null;
  details: Json;
  /** The request's id (X-Request-Id), null outside a request (CLI). */
  request_id: string | null;
}

export interface Database {
  producer_records: ProducerRecordsTable;
  terms: TermsTable;
  accounts: AccountsTable;
  password_history: PasswordHistoryTable;
  flows: FlowsTable;
  oidc_payloads: OidcPayloadsTable;
  signing_keys: SigningKeysTable;
  audit_events: AuditEventsTable;
  one_time_codes: OneTimeCodesTable;
  trusted_devices: TrustedDevicesTable;
  session_activity: SessionActivityTable;
  keystroke_profiles: KeystrokeProfilesTable;
  keystroke_presented: KeystrokePresentedTable;
  single_use_links: SingleUseLinksTable;
  message_sends: MessageSendsTable;
  unknown_login_locks: UnknownLoginLocksTable;
  resource_servers: ResourceServersTable;
  backchannel_logouts: BackchannelLogoutsTable;
  delegations: DelegationsTable;
  delegation_grants: DelegationGrantsTable;
  portal_sessions: PortalSessionsTable;
}

/** A producer's delegate (issue 14; migration 0014; src/db/repositories/delegations.ts). */
export interface DelegationsTable {
  id: string;
  producer_number: string;
  /** The producer's account (who invited). */
  producer_account_id: string;
  /** The delegate's account, once the invitation is accepted. */
  delegate_account_id: string | null;
  /** Invited name and email. */
  first_name: string;
  last_name: string;
  email: string;
  /** Permission codes (src/db/repositories/delegations.ts `PERMISSIONS`). */
  permissions: ColumnType<string[], string[], string[]>;
  status: 'invited' | 'active' | 'removed';
  invited_at: Timestamp;
  accepted_at: Timestamp | null;
  removed_at: Timestamp | null;
  last_active_at: Timestamp | null;
}

/** For whom an oidc-provider Grant acts: a delegation, or (null) the person themselves. */
export interface DelegationGrantsTable {
  grant_id: string;
  account_id: string;
  delegation_id: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
}

/**
 * Sessions of the portal and the example application: the portal's own table, typed by its store
 * (src/portal/session.ts `PgSessionStore`; the portal imports nothing of the IdP).
 */
export type PortalSessionsTable = PortalSessionDatabase['portal_sessions'];

/** Logout tokens still to deliver (src/oidc/backchannel.ts); deleted once delivered or given up. */
export interface BackchannelLogoutsTable {
  id: Generated<string>;
  client_id: string;
  account_id: string;
  sid: string;
  /** Why the session ended: `rp_logout`, `password_reset`, `account_disabled`, `signed_out`, … */
  reason: string;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
  attempts: Generated<number>;
  next_attempt_at: ColumnType<Date, Date | string | undefined, Date | string>;
  locked_until: Timestamp | null;
  last_error: string | null;
}

/** APIs clients may ask access tokens for (RFC 8707 resource indicators; src/oidc/resources.ts). */
export interface ResourceServersTable {
  /** The resource indicator (absolute URI, no fragment), also the tokens' `aud`. */
  identifier: string;
  /** Space-separated scopes the API accepts (never `openid`). */
  scope: string;
  /** Access-token lifetime for this API, seconds; null: the default (3600). */
  access_token_ttl: number | null;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** One-time codes (src/security/one-time-codes.ts); the code itself is never stored, only its HMAC. */
export interface OneTimeCodesTable {
  id: string;
  purpose: string;
  subject: string;
  account_id: string | null;
  channel: 'email' | 'sms';
  code_hmac: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  attempts: Generated<number>;
  consumed_at: Timestamp | null;
  voided_at: Timestamp | null;
}

/** Remembered devices ("Remember this device for 30 days"); only the secret's hash is kept. */
export interface TrustedDevicesTable {
  id: string;
  account_id: string;
  secret_hash: string;
  /** When the second factor that remembered it passed (max_age compares with this). */
  created_at: Timestamp;
  expires_at: Timestamp;
  last_used_at: Timestamp | null;
  user_agent: string | null;
  /** The factor that passed (`email`, `sms`, `keystroke`). */
  factor: string;
  revoked_at: Timestamp | null;
  /** What it skips: `mfa` (Verify your Account) or `typing` (the typing-pattern page). */
  scope: Generated<'mfa' | 'typing'>;
}

/** What the "Signed-in sessions" page shows of an IdP session (migration 0015; src/account/activity.ts). */
export interface SessionActivityTable {
  /** oidc-provider's session uid. */
  session_uid: string;
  account_id: string;
  user_agent: string | null;
  ip: string | null;
  created_at: Timestamp;
  last_seen_at: Timestamp;
}

/** The typing-pattern template of an account (src/keystroke/template.ts), for one sentence. */
export interface KeystrokeProfilesTable {
  account_id: string;
  sentence: string;
  template: Json;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** Typing samples presented at verification (timing features only), for the replay defence. */
export interface KeystrokePresentedTable {
  id: Generated<number>;
  account_id: string;
  sample: Json;
  at: Timestamp;
}

/**
 * Single-use links sent by mail (migration 0006): `verify_email` ("Confirm Your Email Address") and
 * `unlock` (Forgot Username mail of a locked account). Only the token's SHA-256 is kept.
 */
export interface SingleUseLinksTable {
  token_hash: string;
  purpose: 'verify_email' | 'unlock' | 'delegate_invite';
  /** The account the link is for (an invitation: the inviting producer's account). */
  account_id: string;
  /** An invitation link's delegation (migration 0014). */
  delegation_id: Generated<string | null>;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
  /** Replaced by a newer link of the same purpose. */
  voided_at: Timestamp | null;
}

/**
 * One row per message sent that a person can ask for again (migration 0007): one-time codes,
 * confirmation mails and Forgot Username mails, for the resend spacing and the hourly limits.
 */
export interface MessageSendsTable {
  id: Generated<number>;
  /** One-time code purpose (`mfa`, `password_reset`), `verify_email` or `forgot_username`. */
  purpose: string;
  /**
   * Whom the hourly limit counts: `a:<account id>:<purpose>` or `s:<purpose>:<subject>` (codes), the
   * account id (confirmation mails), the HMAC of the lower-cased address (Forgot Username).
   */
  limit_key: string;
  /** Whom the resend spacing counts: a code's subject (its `limitSubject` when the code gives one); `limit_key` for mails. */
  subject: string;
  /** The one_time_codes row this send delivered (codes only; no foreign key: codes are purged first). */
  code_id: string | null;
  channel: 'email' | 'sms' | null;
  sent_at: Timestamp;
  /** Set when the transport failed: the send then no longer delays a resend (it still counts per hour). */
  failed_at: Timestamp | null;
}

/** The fake lock of a username without an account (same rules as accounts.failed_login_count / locked_until). */
export interface UnknownLoginLocksTable {
  /** HMAC-SHA256 of the lower-cased username (src/security/lockout.ts `unknownLockKey`). */
  key: string;
  failed_login_count: Generated<number>;
  locked_until: Timestamp | null;
  updated_at: Timestamp;
}
