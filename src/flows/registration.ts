import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { audit } from '../audit.ts';
import { insertAccount, producerHasAccount, usernameTaken } from '../db/repositories/accounts.ts';
import { findProducer } from '../db/repositories/producers.ts';
import { activeTerms } from '../db/repositories/terms.ts';
import { AppError } from '../http/errors.ts';
import { render } from '../http/render.ts';
import { field, requestInfo } from '../interactions/step.ts';
import { normalizeNpn, normalizeProducerNumber, normalizeZip, zipMatches } from '../producers/records.ts';
import { verifyCsrf } from '../security/csrf.ts';
import { maskEmail } from '../security/mask.ts';
import { checkPassword, PASSWORD_RULES } from '../security/password-policy.ts';
import { checkUsername } from '../security/username-policy.ts';
import { randomToken } from '../security/tokens.ts';
import type { Services } from '../services.ts';
import { confirmEmail, readVerificationTicket, sendVerificationEmail } from './email-verification.ts';
import { FlowStore } from './store.ts';

/** The persisted state of one registration (guide slides 3-5). */
interface RegistrationState extends Record<string, unknown> {
  step: 'terms' | 'producer' | 'login' | 'verify';
  interactionUid?: string;
  termsVersion?: string;
  producerNumber?: string;
  accountId?: string;
}

/** Rate-limit name for registration attempts per client address. */
export const REGISTER_IP_LIMIT = 'register_ip';

const STEP_PATH: Record<RegistrationState['step'], string> = {
  terms: '/register',
  producer: '/register/producer',
  login: '/register/login',
  verify: '/register/verify-email',
};

const UID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX = 200;

function tooLong(...values: (string | undefined)[]): boolean {
  return values.some((v) => v !== undefined && v.length > MAX);
}

/**
 * Mounts registration ("New User? Register Here"), email confirmation and "Return to Log In":
 * - GET  /register                       Terms of Use, Accept / Reject (slide 3)
 * - GET|POST /register/producer          Step 1 of 3, Enter Producer Information (slide 3)
 * - GET|POST /register/login             Step 2 of 3, Create Your Secure Login (slide 4)
 * - GET  /register/verify-email          Step 3 of 3, Verify Your Email; POST …/resend (slide 5)
 * - GET  /verify-email?token=…           "Confirm Your Email Address" link target
 * - POST /login/resend-verification      resend from the login page (after a correct password)
 * - GET  /login                          "Return to Log In": the interaction, or the portal's sign-in
 */
export function registrationRoutes(router: Router, services: Services, provider: Provider): void {
  const { config, db, clock } = services;
  const flows = new FlowStore<RegistrationState>('register', db, clock, config.REGISTRATION_FLOW_TTL_SECONDS, config.NODE_ENV === 'production');

  async function loginUrl(uid: string | undefined): Promise<string> {
    if (uid && UID.test(uid)) {
      const interaction = await provider.Interaction.find(uid);
      if (interaction) return `/interaction/${uid}`;
    }
    return config.PORTAL_URL;
  }

  async function requireFlow(ctx: Context, need: RegistrationState['step'][]): Promise<RegistrationState | undefined> {
    const state = await flows.load(ctx);
    if (state && !need.includes(state.step)) {
      // A step out of order (going straight to a later URL, or back): the flow's current step.
      ctx.status = 303;
      ctx.redirect(STEP_PATH[state.step]);
      return undefined;
    }
    if (!state) {
      const expired = flows.hasCookie(ctx);
      await render(ctx, 'idp/register-restart', { title: 'Registration', message: expired ? 'register.flow_expired' : null }, expired ? 410 : 409);
      return undefined;
    }
    return state;
  }

  router.get('/register', async (ctx) => {
    const terms = await activeTerms(db);
    const uid = typeof ctx.query.interaction === 'string' && UID.test(ctx.query.interaction) ? ctx.query.interaction : undefined;
    if (!terms) {
      await render(ctx, 'idp/register-restart', { title: 'Registration', message: null, closed: true }, 503);
      return;
    }
    await flows.start(ctx, { step: 'terms', interactionUid: uid });
    await render(ctx, 'idp/terms', { title: 'Terms of Use', terms, mode: 'register' });
  });

  router.post('/register/terms', async (ctx) => {
    verifyCsrf(ctx);
    const state = await requireFlow(ctx, ['terms', 'producer', 'login']);
    if (!state) return;
    const terms = await activeTerms(db);
    const decision = field(ctx.request.body as Record<string, unknown>, 'decision');
    if (decision === 'reject') {
      await audit(db, clock, 'terms.rejected', null, requestInfo(ctx), { during: 'registration' });
      const back = await loginUrl(state.interactionUid);
      await flows.end(ctx);
      await render(ctx, 'idp/register-cancelled', { title: 'Registration cancelled', loginUrl: back });
      return;
    }
    if (!terms || decision !== 'accept' || field(ctx.request.body as Record<string, unknown>, 'version') !== terms.version) {
      await render(ctx, 'idp/terms', { title: 'Terms of Use', terms, mode: 'register', formError: 'terms.must_accept' }, 422);
      return;
    }
    await flows.save(ctx, { ...state, step: 'producer', termsVersion: terms.version });
    ctx.status = 303;
    ctx.redirect('/register/producer');
  });

  router.get('/register/producer', async (ctx) => {
    if (!(await requireFlow(ctx, ['producer', 'login']))) return;
    await render(ctx, 'idp/register-producer', { title: 'Enter Producer Information' });
  });

  router.post('/register/producer', async (ctx) => {
    verifyCsrf(ctx);
    const state = await requireFlow(ctx, ['producer', 'login']);
    if (!state) return;
    const body = ctx.request.body as Record<string, unknown>;
    const raw = { producerNumber: field(body, 'producerNumber') ?? '', npn: field(body, 'npn') ?? '', zip: field(body, 'zip') ?? '' };
    const values = { producerNumber: raw.producerNumber.slice(0, 20), npn: raw.npn.slice(0, 20), zip: raw.zip.slice(0, 20) };
    const errors: Record<string, string> = {};
    if (tooLong(raw.producerNumber, raw.npn, raw.zip)) errors.form = 'form.too_long';
    const producerNumber = normalizeProducerNumber(raw.producerNumber);
    const npn = normalizeNpn(raw.npn);
    const zip = normalizeZip(raw.zip);
    if (!raw.producerNumber.trim()) errors.producerNumber = 'form.required';
    else if (!producerNumber) errors.producerNumber = 'register.producer_number.format';
    if (!raw.npn.trim()) errors.npn = 'form.required';
    else if (!npn) errors.npn = 'register.npn.format';
    if (!raw.zip.trim()) errors.zip = 'form.required';
    else if (!zip) errors.zip = 'register.zip.format';
    if (Object.keys(errors).length || !producerNumber || !npn || !zip) {
      await render(ctx, 'idp/register-producer', { title: 'Enter Producer Information', values, errors }, 422);
      return;
    }
    const info = requestInfo(ctx);
    const limited = await services.rateLimits.consume(REGISTER_IP_LIMIT, info.ip);
    if (!limited.allowed) {
      await audit(db, clock, 'rate_limited', null, info, { limit: REGISTER_IP_LIMIT });
      await render(ctx, 'idp/register-producer', {
        title: 'Enter Producer Information', values, formError: 'http.rate_limited', formErrorParams: { minutes: Math.ceil(limited.retryAfterSeconds / 60) },
      }, 429);
      return;
    }
    const record = await findProducer(db, producerNumber);
    const matches = !!record && normalizeNpn(record.npn) === npn && zipMatches(record, zip);
    if (!record || !matches) {
      await audit(db, clock, 'registration.producer_rejected', null, info, { reason: 'no_match' });
      await render(ctx, 'idp/register-producer', { title: 'Enter Producer Information', values, formError: 'register.no_match' }, 422);
      return;
    }
    if (record.status !== 'active') {
      await audit(db, clock, 'registration.producer_rejected', null, info, { reason: 'inactive', producerNumber });
      await render(ctx, 'idp/register-producer', { title: 'Enter Producer Information', values, formError: 'register.inactive' }, 422);
      return;
    }
    if (await producerHasAccount(db, producerNumber)) {
      await audit(db, clock, 'registration.producer_rejected', null, info, { reason: 'already_registered', producerNumber });
      await render(ctx, 'idp/register-producer', { title: 'Enter Producer Information', values, formError: 'register.already_registered', showRecovery: true }, 409);
      return;
    }
    await audit(db, clock, 'registration.producer_matched', null, info, { producerNumber });
    await flows.save(ctx, { ...state, step: 'login', producerNumber });
    ctx.status = 303;
    ctx.redirect('/register/login');
  });

  const loginView = (values: Record<string, unknown>, errors: Record<string, string[]>, formError: string | null = null) => ({
    title: 'Create Your Secure Login',
    rules: PASSWORD_RULES,
    values,
    fieldErrors: errors,
    formError,
  });

  router.get('/register/login', async (ctx) => {
    if (!(await requireFlow(ctx, ['login']))) return;
    await render(ctx, 'idp/register-login', loginView({}, {}));
  });

  router.post('/register/login', async (ctx) => {
    verifyCsrf(ctx);
    const state = await requireFlow(ctx, ['login']);
    if (!state || !state.producerNumber || !state.termsVersion) return;
    const body = ctx.request.body as Record<string, unknown>;
    const username = field(body, 'username') ?? '';
    const password = field(body, 'password') ?? '';
    const errors: Record<string, string[]> = {};
    const u = username.length > MAX ? ['username.too_long'] : checkUsername(username);
    const p = password.length > MAX ? ['password.length'] : checkPassword(password, { username });
    if (u.length) errors.username = u;
    if (p.length) errors.password = p;
    const values = { username: username.slice(0, 40) };
    if (!u.length && (await usernameTaken(db, username))) errors.username = ['username.taken'];
    if (Object.keys(errors).length) {
      await render(ctx, 'idp/register-login', loginView(values, errors), 422);
      return;
    }
    const terms = await activeTerms(db);
    if (!terms || terms.version !== state.termsVersion) {
      // A new version was published meanwhile: accept it first.
      await flows.save(ctx, { ...state, step: 'terms' });
      await render(ctx, 'idp/terms', { title: 'Terms of Use', terms, mode: 'register', formError: 'terms.must_accept' }, 409);
      return;
    }
    const passwordHash = await services.hasher.hash(password);
    const accountId = randomToken(16);
    const info = requestInfo(ctx);
    try {
      await db.transaction().execute(async (trx) => {
        await insertAccount(trx, { id: accountId, username, producerNumber: state.producerNumber!, passwordHash, termsVersion: terms.version, now: clock.now() });
      });
    } catch (err) {
      if ((err as { code?: string }).code !== '23505') throw err;
      const already = await producerHasAccount(db, state.producerNumber);
      await render(ctx, 'idp/register-login', loginView(values, already ? {} : { username: ['username.taken'] }, already ? 'register.already_registered' : null), 409);
      return;
    }
    await audit(db, clock, 'registration.account_created', accountId, info, { producerNumber: state.producerNumber, termsVersion: terms.version });
    await audit(db, clock, 'terms.accepted', accountId, info, { version: terms.version, during: 'registration' });
    await flows.save(ctx, { ...state, step: 'verify', accountId });
    await sendVerificationEmail(services, accountId, info);
    ctx.status = 303;
    ctx.redirect('/register/verify-email');
  });

  async function verifyView(ctx: Context, state: RegistrationState, notice: string | null, status = 200, formError: string | null = null, formErrorParams = {}) {
    const record = state.producerNumber ? await findProducer(db, state.producerNumber) : undefined;
    await render(ctx, 'idp/register-verify', {
      title: 'Verify Your Email',
      maskedEmail: record ? maskEmail(record.email) : '',
      notice,
      noticeParams: { email: record ? maskEmail(record.email) : '' },
      formError,
      formErrorParams,
      loginUrl: await loginUrl(state.interactionUid),
    }, status);
  }

  router.get('/register/verify-email', async (ctx) => {
    const state = await requireFlow(ctx, ['verify']);
    if (!state) return;
    await verifyView(ctx, state, null); // the page itself says where the link was sent
  });

  router.post('/register/verify-email/resend', async (ctx) => {
    verifyCsrf(ctx);
    const state = await requireFlow(ctx, ['verify']);
    if (!state || !state.accountId) return;
    const result = await sendVerificationEmail(services, state.accountId, requestInfo(ctx));
    if (result.sent) await verifyView(ctx, state, 'verify_email.resent');
    else if (result.reason === 'limited') await verifyView(ctx, state, null, 429, 'verify_email.resend_limited', { minutes: Math.ceil(result.retryAfterSeconds / 60) });
    else await verifyView(ctx, state, 'verify_email.confirmed');
  });

  router.get('/verify-email', async (ctx) => {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
    const accountId = await confirmEmail(services, token, requestInfo(ctx));
    const state = await flows.load(ctx);
    const back = await loginUrl(state?.interactionUid);
    if (!accountId) {
      await render(ctx, 'idp/email-confirmed', { title: 'Verify Your Email', ok: false, loginUrl: back }, 400);
      return;
    }
    if (state?.accountId === accountId) await flows.end(ctx);
    await render(ctx, 'idp/email-confirmed', { title: 'Email confirmed', ok: true, loginUrl: back });
  });

  router.post('/login/resend-verification', async (ctx) => {
    verifyCsrf(ctx);
    const body = ctx.request.body as Record<string, unknown>;
    const accountId = readVerificationTicket(config.COOKIE_KEYS, body.ticket, clock.now());
    if (!accountId) throw new AppError('http.bad_request', 400);
    const uid = field(body, 'interaction');
    const result = await sendVerificationEmail(services, accountId, requestInfo(ctx));
    await render(ctx, 'idp/notice', {
      title: 'Verify Your Email',
      notice: result.sent ? 'verify_email.resent' : result.reason === 'limited' ? 'verify_email.resend_limited' : 'verify_email.confirmed',
      noticeParams: result.sent ? { email: maskEmail(result.email) } : result.reason === 'limited' ? { minutes: Math.ceil(result.retryAfterSeconds / 60) } : {},
      loginUrl: await loginUrl(uid),
    }, !result.sent && result.reason === 'limited' ? 429 : 200);
  });

  router.get('/login', async (ctx) => {
    const uid = typeof ctx.query.interaction === 'string' ? ctx.query.interaction : undefined;
    ctx.redirect(await loginUrl(uid));
  });
}
