import type { Kysely } from 'kysely';
import type { Account } from '../db/repositories/accounts.ts';
import { addPresented, deleteProfile, findProfile, recentPresented, saveProfile } from '../db/repositories/keystroke.ts';
import type { Database } from '../db/schema.ts';
import { renderMessage } from '../notify/mail.ts';
import { accept, createTemplate, isReplay, parseSample, parseTemplate, templateSamples, updateTemplate, type Sample, type Template } from '../keystroke/index.ts';
import type { Factor, FactorContext, FactorVerify, MfaDeps } from './factor.ts';

/** How many typings of the sentence a page asks for (guide slides 8 and 11: "three (3) times"). */
export const TYPINGS = 3;
/** Presented samples kept per account for the replay defence. */
const PRESENTED_KEPT = 60;

/** The account's template for the configured sentence, or undefined (none, another sentence, unreadable). */
export async function loadProfile(db: Kysely<Database>, accountId: string, sentence: string): Promise<Template | undefined> {
  const row = await findProfile(db, accountId);
  if (!row || row.sentence !== sentence) return undefined;
  return parseTemplate(row.template) ?? undefined;
}

/**
 * Reads the `sample1`…`sample3` hidden fields posted by /js/keystroke-recorder.js: each a JSON
 * timing sample (seconds; never the typed text) for the sentence.
 * @returns the samples, or `needs_js` when none was posted (no JavaScript), or `invalid` when one is
 *   missing or fails parseSample (bounds, lengths, consistency).
 */
export function readSamples(body: Record<string, unknown>, sentence: string): { ok: true; samples: Sample[] } | { ok: false; reason: 'needs_js' | 'invalid' } {
  const raw = [1, 2, 3].map((i) => body[`sample${i}`]);
  if (raw.every((r) => r === undefined || r === '')) return { ok: false, reason: 'needs_js' };
  const samples = raw.map((r) => (typeof r === 'string' ? parseSample(r, sentence.length) : null));
  if (samples.some((s) => s === null)) return { ok: false, reason: 'invalid' };
  return { ok: true, samples: samples as Sample[] };
}

/**
 * Replay defence (issue 5 §4): true when any of `samples` equals, within 1 ms on every feature, a
 * sample already stored in the template or already presented for this account — or another of the
 * same submission.
 */
export async function isReplayed(db: Kysely<Database>, accountId: string, template: Template | undefined, samples: Sample[]): Promise<boolean> {
  const presented = (await recentPresented(db, accountId, PRESENTED_KEPT)) as Sample[];
  const known: Sample[] = [...(template ? templateSamples(template) : []), ...presented];
  return samples.some((s, i) => isReplay(s, [...known, ...samples.slice(0, i)]));
}

/** Records presented samples (timing features only) for the replay defence, keeping the last 60. */
export async function recordPresented(db: Kysely<Database>, accountId: string, samples: Sample[], at: Date): Promise<void> {
  await addPresented(db, accountId, samples, at, PRESENTED_KEPT);
}

/** What verified the sign-in that brings typings: a fresh email/SMS code, the keyboard pattern itself, or nothing (remembered device). */
export type TypingProof = 'code' | 'keystroke' | 'none';

/**
 * Whether a completed sign-in may save its typings (issue 9, item 2: a factor usable from anywhere
 * is set up only on proof at least as strong as what it grants). Enrolling (or enrolling again
 * after a reset) needs a fresh email or SMS code in the same sign-in, even on a browser remembered
 * for "Verify your Account"; an existing template also adapts after the keyboard pattern itself
 * matched in this sign-in; a sign-in with no second factor never changes it.
 * (The keyboard pattern can only pass when a pattern exists, so `keystroke` never enrols.)
 * @param proof the second factor that passed in this sign-in.
 */
export function maySaveTypings(proof: TypingProof): boolean {
  return proof === 'code' || proof === 'keystroke';
}

/**
 * Mails the owner "A typing pattern was set up for your account" (issue 9, item 2; like the
 * "password changed" mail, every new way to sign in is told to the owner). Template
 * views/messages/typing-pattern-set.*.ejs.
 * @throws the mailer's error (callers run it with services.later, which logs it).
 */
export async function sendTypingPatternMail(services: Pick<MfaDeps, 'config' | 'mailer' | 'branding' | 'clock'>, account: Account): Promise<void> {
  const { config } = services;
  const msg = await renderMessage('typing-pattern-set', account.producer.email, `A typing pattern was set up for your ${config.PRODUCT_NAME} account`, services.branding, {
    firstName: account.producer.firstName,
    username: account.username,
    changedAt: services.clock.now().toUTCString(),
    loginUrl: config.PORTAL_URL,
  });
  await services.mailer.send(msg);
}

/**
 * After a completed sign-in (any factor): the typings of this sign-in enrol the profile (first
 * time) or enter its bounded window of recent samples (template adaptation, issue 5 §3).
 */
export async function saveTypings(services: Pick<MfaDeps, 'db' | 'clock' | 'config'>, accountId: string, samples: Sample[]): Promise<'enrolled' | 'updated' | 'none'> {
  if (!samples.length) return 'none';
  const { db, clock, config } = services;
  const now = clock.now();
  const current = await loadProfile(db, accountId, config.KEYSTROKE_SENTENCE);
  const template = current ? updateTemplate(current, samples) : createTemplate(samples);
  await saveProfile(db, accountId, config.KEYSTROKE_SENTENCE, template, now);
  return current ? 'updated' : 'enrolled';
}

/** Removes an account's typing pattern (CLI `keystroke reset`: the guide's "contact Service Desk"). */
export async function resetProfile(db: Kysely<Database>, accountId: string): Promise<boolean> {
  return deleteProfile(db, accountId);
}

/**
 * "Verify Account by Keyboard Pattern" (guide slide 11): type the highlighted sentence 3 times; the
 * product's matcher (src/keystroke) accepts or refuses against the account's template with the
 * global KEYSTROKE_THRESHOLD. Available once a typing pattern is enrolled. By default it reaches
 * only the lower acr (KEYSTROKE_STRONG=false): typing behaviour is a convenience factor, with the
 * email/SMS codes as fallback. A refused typing counts as a second-factor failure; its samples are
 * kept for the replay defence and (when the sign-in completes by another factor) for adaptation.
 */
export function keystrokeFactor(config: Pick<MfaDeps['config'], 'KEYSTROKE_AMR' | 'KEYSTROKE_STRONG'>): Factor {
  return {
    id: 'keystroke',
    amr: config.KEYSTROKE_AMR,
    kind: 'pattern',
    strong: config.KEYSTROKE_STRONG,
    label: 'Verify Account by Keyboard Pattern',
    async available(account: Account, services: MfaDeps) {
      return !!(await loadProfile(services.db, account.id, services.config.KEYSTROKE_SENTENCE));
    },
    describe() {
      return 'Prompt me for personalized keyboard typing pattern';
    },
    async start() {
      return { ok: true, notice: 'mfa.keystroke_type', noticeParams: {} };
    },
    async verify(fc: FactorContext, body: Record<string, unknown>): Promise<FactorVerify> {
      const { services, account } = fc;
      const sentence = services.config.KEYSTROKE_SENTENCE;
      const read = readSamples(body, sentence);
      if (!read.ok) {
        return { ok: false, error: read.reason === 'needs_js' ? 'mfa.keystroke_needs_js' : 'mfa.keystroke_retype', countsAsFailure: false };
      }
      const template = await loadProfile(services.db, account.id, sentence);
      if (!template) return { ok: false, error: 'mfa.factor_unavailable', countsAsFailure: false, restart: true };
      if (await isReplayed(services.db, account.id, template, read.samples)) {
        return { ok: false, error: 'mfa.keystroke_replay', countsAsFailure: true, restart: true };
      }
      await recordPresented(services.db, account.id, read.samples, services.clock.now());
      if (accept(template, read.samples, services.config.KEYSTROKE_THRESHOLD)) return { ok: true, samples: read.samples };
      return { ok: false, error: 'mfa.keystroke_failed', countsAsFailure: true, restart: true, samples: read.samples };
    },
    async cancel() {},
  };
}
