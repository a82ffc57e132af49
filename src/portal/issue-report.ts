/**
 * "How to report an Issue" (user guide, slide 19): the portal's form and the mail it sends.
 *
 * The guide asks producers to email the portal's support mailbox with: a detailed description of
 * the issue or error message, a full-screen screenshot (preferred), the steps taken before the
 * error, the client/contact name (where applicable), the agent name / producer ID, the product type
 * and state (ACA Medical, ACA Dental, MAPD, PDP, DSNP, Med Supp) and the date/time the issue was
 * observed. The form asks for exactly these; the mail goes to the configured address.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { fileTypeFromBuffer } from 'file-type';

/** Product types the guide lists (slide 19). */
export const PRODUCT_TYPES = ['ACA Medical', 'ACA Dental', 'MAPD', 'PDP', 'DSNP', 'Med Supp'] as const;

/** US states and DC by USPS code, for the State field. */
export const STATES: ReadonlyArray<readonly [string, string]> = [
  ['AL', 'Alabama'], ['AK', 'Alaska'], ['AZ', 'Arizona'], ['AR', 'Arkansas'], ['CA', 'California'], ['CO', 'Colorado'],
  ['CT', 'Connecticut'], ['DE', 'Delaware'], ['DC', 'District of Columbia'], ['FL', 'Florida'], ['GA', 'Georgia'],
  ['HI', 'Hawaii'], ['ID', 'Idaho'], ['IL', 'Illinois'], ['IN', 'Indiana'], ['IA', 'Iowa'], ['KS', 'Kansas'],
  ['KY', 'Kentucky'], ['LA', 'Louisiana'], ['ME', 'Maine'], ['MD', 'Maryland'], ['MA', 'Massachusetts'],
  ['MI', 'Michigan'], ['MN', 'Minnesota'], ['MS', 'Mississippi'], ['MO', 'Missouri'], ['MT', 'Montana'],
  ['NE', 'Nebraska'], ['NV', 'Nevada'], ['NH', 'New Hampshire'], ['NJ', 'New Jersey'], ['NM', 'New Mexico'],
  ['NY', 'New York'], ['NC', 'North Carolina'], ['ND', 'North Dakota'], ['OH', 'Ohio'], ['OK', 'Oklahoma'],
  ['OR', 'Oregon'], ['PA', 'Pennsylvania'], ['RI', 'Rhode Island'], ['SC', 'South Carolina'], ['SD', 'South Dakota'],
  ['TN', 'Tennessee'], ['TX', 'Texas'], ['UT', 'Utah'], ['VT', 'Vermont'], ['VA', 'Virginia'], ['WA', 'Washington'],
  ['WV', 'West Virginia'], ['WI', 'Wisconsin'], ['WY', 'Wyoming'],
];

/** Largest screenshot accepted, bytes (5 MB). */
export const SCREENSHOT_MAX_BYTES = 5 * 1024 * 1024;
/** Longest text field, characters. */
const TEXT_MAX = 5000;
const SHORT_MAX = 200;

/** An attachment of the report mail. */
export interface Attachment {
  filename: string;
  content: Buffer;
  contentType: string;
}

/** What the form sent, as text (for showing it again) and the screenshot, if any. */
export interface ReportForm {
  fields: Record<string, string>;
  screenshot?: { filename: string; content: Buffer; truncated: boolean };
}

/** A checked report, ready to mail. */
export interface IssueReport {
  description: string;
  steps: string;
  clientName: string;
  productType: string;
  state: string;
  /** Date/time observed as the person entered it (`YYYY-MM-DDTHH:MM`, their local time). */
  observedAt: string;
  screenshot?: Attachment;
}

/** Field → message code (portal catalog) for what is wrong with it. */
export type FieldErrors = Partial<Record<'description' | 'steps' | 'clientName' | 'productType' | 'state' | 'observedAt' | 'screenshot' | 'form', string>>;

/** Thrown when the body is not a multipart form the portal can read (answered 400). */
export class BadFormError extends Error {}

/**
 * Reads a `multipart/form-data` body (busboy): text fields up to 10 KB each (at most 20), and one
 * file field `screenshot` kept in memory up to {@link SCREENSHOT_MAX_BYTES} + 1 byte (so that a
 * larger file is known to be too large without reading all of it).
 * @throws BadFormError when the content type is not multipart/form-data or the body is malformed.
 */
export function readMultipart(req: IncomingMessage): Promise<ReportForm> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { fieldSize: 10 * 1024, fields: 20, files: 1, fileSize: SCREENSHOT_MAX_BYTES + 1, parts: 25 } });
    } catch {
      reject(new BadFormError('not a multipart form'));
      return;
    }
    const form: ReportForm = { fields: {} };
    const pending: Promise<void>[] = [];
    parser.on('field', (name, value) => {
      if (!(name in form.fields)) form.fields[name] = value;
    });
    parser.on('file', (name, stream, info) => {
      if (name !== 'screenshot') {
        stream.resume();
        return;
      }
      const chunks: Buffer[] = [];
      let truncated = false;
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('limit', () => {
        truncated = true;
      });
      pending.push(new Promise((done) => stream.on('close', () => {
        const content = Buffer.concat(chunks);
        if (content.length > 0 || info.filename) form.screenshot = { filename: info.filename ?? 'screenshot', content, truncated };
        done();
      })));
    });
    parser.on('error', () => reject(new BadFormError('malformed multipart body')));
    parser.on('close', () => {
      Promise.all(pending).then(() => resolve(form), reject);
    });
    req.pipe(parser);
  });
}

/** The form's values shown again after a refusal (text only, trimmed to sane lengths). */
export function echoValues(fields: Record<string, string>): Record<string, string> {
  const pick = (k: string, max: number) => (fields[k] ?? '').slice(0, max);
  return {
    description: pick('description', TEXT_MAX),
    steps: pick('steps', TEXT_MAX),
    clientName: pick('clientName', SHORT_MAX),
    productType: pick('productType', 40),
    state: pick('state', 2),
    observedAt: pick('observedAt', 16),
  };
}

const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
/** Line breaks too: a one-line field (Client/Contact Name) must not add lines to the mail. */
const CONTROL_OR_LINE_BREAK = /[\u0000-\u001f\u007f\u2028\u2029\u0085]/;

/**
 * Checks the form (slide 19's required items): description, steps, product type (one of
 * {@link PRODUCT_TYPES}), state (a USPS code of {@link STATES}) and date/time observed are
 * required; client/contact name is optional; the screenshot is optional and must be a PNG or JPEG
 * by its content (not its name) of at most 5 MB.
 * @param now the time the date/time observed may not be later than (a day of slack for time zones).
 * @returns the report, or the field errors (message codes).
 */
export async function checkReport(form: ReportForm, now: Date): Promise<{ ok: true; report: IssueReport } | { ok: false; errors: FieldErrors }> {
  const f = form.fields;
  const errors: FieldErrors = {};
  const text = (key: 'description' | 'steps' | 'clientName', max: number, required: boolean, oneLine = false) => {
    const v = (f[key] ?? '').trim();
    if (!v && required) errors[key] = 'report.required';
    else if (v.length > max) errors[key] = 'report.too_long';
    else if ((oneLine ? CONTROL_OR_LINE_BREAK : CONTROL).test(v)) errors[key] = 'report.invalid_characters';
    return v;
  };
  const description = text('description', TEXT_MAX, true);
  const steps = text('steps', TEXT_MAX, true);
  const clientName = text('clientName', SHORT_MAX, false, true);
  const productType = f.productType ?? '';
  if (!productType) errors.productType = 'report.required';
  else if (!(PRODUCT_TYPES as readonly string[]).includes(productType)) errors.productType = 'report.choose_from_list';
  const state = f.state ?? '';
  if (!state) errors.state = 'report.required';
  else if (!STATES.some(([code]) => code === state)) errors.state = 'report.choose_from_list';
  const observedAt = (f.observedAt ?? '').trim();
  const parsed = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(observedAt);
  if (!observedAt) errors.observedAt = 'report.required';
  else if (!parsed || Number.isNaN(Date.parse(`${observedAt}:00Z`))) errors.observedAt = 'report.date_format';
  else if (Date.parse(`${observedAt}:00Z`) > now.getTime() + 86_400_000) errors.observedAt = 'report.date_future';

  let screenshot: Attachment | undefined;
  if (form.screenshot && form.screenshot.content.length > 0) {
    if (form.screenshot.truncated || form.screenshot.content.length > SCREENSHOT_MAX_BYTES) errors.screenshot = 'report.screenshot_too_large';
    else {
      const type = await fileTypeFromBuffer(form.screenshot.content);
      if (!type || (type.mime !== 'image/png' && type.mime !== 'image/jpeg')) errors.screenshot = 'report.screenshot_type';
      else screenshot = { filename: `screenshot.${type.ext}`, content: form.screenshot.content, contentType: type.mime };
    }
  }
  if (Object.keys(errors).length) return { ok: false, errors };
  return { ok: true, report: { description, steps, clientName, productType, state, observedAt, screenshot } };
}

/** A reference number for a report, e.g. `RPT-7K3M9Q2X` (random; shown to the person and in the mail's subject). */
export function referenceNumber(): string {
  const alphabet = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
  const bytes = randomBytes(8);
  return `RPT-${[...bytes].map((b) => alphabet[b % alphabet.length]).join('')}`;
}

/** Who a report is about and who sent it (see `reportingAgent` in views.ts). */
export interface ReportingAgent {
  /** The producer's name: the signed-in producer, or the producer a delegate works for. */
  name: string;
  /** The producer number (`producer_number` / the delegation's), never an account id; undefined when not released. */
  producerId: string | undefined;
  /** A delegate's own name, when a delegate reports for the producer. */
  reportedBy?: string;
  /** The email of the person who reported. */
  email?: string;
}

/** "Agent Name / Producer ID" as the form and the mail show it: `NAME / NUMBER`, plus `, reported by DELEGATE (delegate)`. */
export function agentLine(agent: ReportingAgent): string {
  const line = `${agent.name} / ${agent.producerId ?? '(producer number not available)'}`;
  return agent.reportedBy ? `${line}, reported by ${agent.reportedBy} (delegate)` : line;
}

/** What the person wrote, each line quoted (`> `): it can never pass for a line of the mail itself. */
function quoted(text: string): string {
  return text.split(/\r\n|\r|\n/).map((line) => `> ${line}`).join('\n');
}

/**
 * The mail of a report to the support mailbox: plain text with every item of slide 19, the
 * producer's name and producer ID (from the ID token / userinfo claims, never typed; for a delegate
 * the producer they work for, and the delegate as the reporter), and the screenshot attached. The
 * free texts are quoted line by line, and the one-line fields hold no line break, so nothing typed
 * can pass for the mail's own lines.
 */
export function reportMail(to: string, reference: string, report: IssueReport, agent: ReportingAgent, productName: string) {
  const stateName = STATES.find(([code]) => code === report.state)?.[1] ?? report.state;
  const reporter = agent.reportedBy ? 'Delegate' : 'Producer';
  const lines = [
    `${productName}: issue report ${reference}`,
    '',
    `Agent Name / Producer ID: ${agent.name} / ${agent.producerId ?? '(producer number not available)'}`,
    ...(agent.reportedBy ? [`Reported by: ${agent.reportedBy}, delegate of ${agent.name}`] : []),
    ...(agent.email ? [`${reporter} email: ${agent.email}`] : []),
    `Product Type and State: ${report.productType}, ${stateName} (${report.state})`,
    `Date/Time the issue was observed: ${report.observedAt.replace('T', ' ')} (${reporter.toLowerCase()}'s local time)`,
    `Client/Contact Name: ${report.clientName || '(not applicable)'}`,
    '',
    'Detailed Description of Issue/Error Message:',
    quoted(report.description),
    '',
    'Steps taken prior to receiving the error:',
    quoted(report.steps),
    '',
    `Screenshot: ${report.screenshot ? `attached (${report.screenshot.filename}, ${report.screenshot.content.length} bytes)` : 'none'}`,
  ];
  const from = `producer ${agent.producerId ?? agent.name}`;
  return {
    to,
    subject: `[${reference}] Issue report from ${from}${agent.reportedBy ? ` (reported by delegate ${agent.reportedBy})` : ''}`,
    text: lines.join('\n'),
    attachments: report.screenshot ? [report.screenshot] : [],
  };
}
