/**
 * Shared harness of `npm run bench:login` and `npm run bench:grants` (issue 12).
 *
 * {@link startBench} creates a fresh PostgreSQL schema (DATABASE_URL, default the test database),
 * starts a real SMTP receiver (smtp-server) and the IdP as a child process (`node src/main.ts`,
 * PORTAL_ENABLED=false, its own PORT and METRICS_PORT, 127.0.0.1 only), then
 * registers relying parties with the CLI (`clients add`) and imports N generated producers with the
 * CLI (`producers import`). {@link registerThroughPages} registers one producer through the real
 * pages (Terms of Use, producer information, secure login, email confirmation link) and signs in once
 * with the email code, ticking "Remember this device", so later sign-ins skip the second factor.
 * `stop()` ends the IdP (SIGTERM), the receiver, and drops the schema.
 *
 * NODE_ENV is `test` unless `--node-env=development`: on plain http that is what production does
 * (templates compiled once), minus the https-only checks and Secure cookies; `development`
 * recompiles every template at each render.
 *
 * Measurement helpers read /proc (Linux): CPU of the IdP's main thread (/proc/PID/task/PID/stat)
 * and of the whole process (/proc/PID/stat), clock ticks converted to milliseconds; VmHWM/VmRSS.
 * Nothing here is asserted by tests: the benchmarks print figures.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { SmtpReceiver } from '../test/helpers/smtp.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The password every benchmark producer registers with (meets the guide's policy, slide 4). */
export const BENCH_PASSWORD = 'Qz7!kR9{mW';
const REDIRECT_URI = 'http://127.0.0.1:9/callback';
/** Linux clock ticks per second for /proc/PID/stat (USER_HZ; 100 on every mainstream kernel). */
const TICKS_PER_SECOND = 100;

// ---------- small statistics ----------

/** The p-th percentile (0-100) of `xs` by nearest rank; NaN when empty. */
export function percentile(xs: readonly number[], p: number): number {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Rounds for printing: 3 significant figures under 100, integers above. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return '-';
  return Math.abs(x) >= 100 ? String(Math.round(x)) : x.toPrecision(3);
}

/** Prints rows as an aligned text table. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  return cells.map((r, k) => {
    const line = r.map((c, i) => String(c).padStart(widths[i]!)).join('  ');
    return k === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
  }).join('\n');
}

// ---------- /proc ----------

/** CPU time used so far by the IdP, milliseconds: `main` (its main thread) and `total` (all threads). */
export function cpuOf(pid: number): { main: number; total: number } {
  const ticks = (file: string) => {
    const stat = readFileSync(file, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // after "pid (comm) "
    return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14 and 15)
  };
  const toMs = (t: number) => (t * 1000) / TICKS_PER_SECOND;
  return { main: toMs(ticks(`/proc/${pid}/task/${pid}/stat`)), total: toMs(ticks(`/proc/${pid}/stat`)) };
}

/** Resident memory of `pid`, MiB: `rss` now and `hwm` (VmHWM, the peak since the process started). */
export function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: kib('VmRSS') / 1024, hwm: kib('VmHWM') / 1024 };
}

/** The 1-minute load average and the number of CPUs (the load the figures were taken under). */
export function machine(): { cpus: number; model: string; load1: number; load5: number } {
  const [load1, load5] = os.loadavg();
  return { cpus: os.availableParallelism(), model: os.cpus()[0]?.model ?? 'unknown', load1: load1!, load5: load5! };
}

// ---------- HTTP with a cookie jar ----------

interface Cookie { name: string; value: string; path: string }

/** A browser-like cookie jar (name + path; paths matched by prefix), enough for one origin. */
export class Jar {
  cookies: Cookie[] = [];

  /** A copy holding only the cookies whose names pass `keep`. */
  clone(keep: (name: string) => boolean = () => true): Jar {
    const j = new Jar();
    j.cookies = this.cookies.filter((c) => keep(c.name)).map((c) => ({ ...c }));
    return j;
  }

  header(urlPath: string): string {
    return this.cookies.filter((c) => urlPath === c.path || urlPath.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/')
      .map((c) => `${c.name}=${c.value}`).join('; ');
  }

  store(setCookies: string[]): void {
    for (const sc of setCookies) {
      const [pair, ...attrs] = sc.split(';').map((s) => s.trim());
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      let cpath = '/';
      let expired = value === '';
      for (const a of attrs) {
        const [k, v = ''] = a.split('=');
        if (k!.toLowerCase() === 'path') cpath = v;
        if (k!.toLowerCase() === 'expires' && Date.parse(v) < Date.now()) expired = true;
        if (k!.toLowerCase() === 'max-age' && Number(v) <= 0) expired = true;
      }
      this.cookies = this.cookies.filter((c) => !(c.name === name && c.path === cpath));
      if (!expired) this.cookies.push({ name, value, path: cpath });
    }
  }
}

/** A response: status, headers, body text. */
export interface Res { status: number; location: string | null; text: string; headers: Headers }

/**
 * One request to the IdP without following redirects, with `jar`'s cookies; stores the cookies set.
 * `form` is sent as application/x-www-form-urlencoded.
 */
export async function http(base: string, jar: Jar | null, method: 'GET' | 'POST', urlPath: string, opts: { form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Res> {
  const u = new URL(urlPath, base);
  const headers: Record<string, string> = { 'user-agent': 'producer-idp-bench', ...opts.headers };
  if (jar) {
    const c = jar.header(u.pathname);
    if (c) headers.cookie = c;
  }
  if (opts.form) headers['content-type'] = 'application/x-www-form-urlencoded';
  const res = await fetch(u, { method, headers, body: opts.form ? new URLSearchParams(opts.form).toString() : undefined, redirect: 'manual', signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  jar?.store(res.headers.getSetCookie());
  return { status: res.status, location: res.headers.get('location'), text, headers: res.headers };
}

/** The hidden `_csrf` value of a page. */
export function csrfIn(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error(`no CSRF token in page: ${html.slice(0, 300)}`);
  return m[1]!;
}

function expect(res: Res, status: number | number[], what: string): Res {
  const ok = Array.isArray(status) ? status.includes(res.status) : res.status === status;
  if (!ok) throw new Error(`${what}: HTTP ${res.status} ${res.location ?? ''} ${res.text.replace(/\s+/g, ' ').slice(0, 300)}`);
  return res;
}

// ---------- the running IdP ----------

/** A registered relying party. */
export interface BenchClient { clientId: string; clientSecret?: string; redirectUri: string }

/** A producer registered through the pages, with the browser that remembers its device. */
export interface BenchProducer { username: string; email: string; deviceJar: Jar }

/** What {@link startBench} gives. */
export interface Bench {
  url: string;
  pid: number;
  metricsUrl: string;
  discovery: Record<string, unknown>;
  smtp: SmtpReceiver;
  confidential: BenchClient;
  publicClient: BenchClient;
  /** A client_credentials client (`clients add --grant client_credentials --scope hierarchy:read`), when the IdP has that grant. */
  serviceClient?: BenchClient;
  producers: { producerNumber: string; npn: string; zip: string; email: string; username: string }[];
  /** Reads a counter (sum over labels) from the metrics listener. */
  metric(name: string): Promise<number>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const { port } = s.address() as { port: number };
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function runCli(env: NodeJS.ProcessEnv, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['src/cli/main.ts', ...args], { cwd: repoRoot, env, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`cli ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

/** A username meeting the policy (letters only after "Bench", so no runs of digits): Bench + base-26 of i. */
function benchUsername(i: number): string {
  let s = '';
  let n = i;
  do {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26);
  } while (n > 0);
  return `Bench${s.padStart(3, 'q')}Producer`;
}

/**
 * Starts everything a benchmark needs; `producers` producer records are imported (not yet registered).
 * @throws Error when PostgreSQL, the IdP or the CLI fails (the message says which).
 */
export async function startBench(opts: { producers: number; env?: Record<string, string> }): Promise<Bench> {
  const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/producer_idp_test';
  const schema = `bench_${randomBytes(5).toString('hex')}`;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pidp-bench-'));
  const smtp = await new SmtpReceiver().start();
  const port = await freePort();
  const metricsPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: nodeEnvArg(),
    HOST: '127.0.0.1',
    PORT: String(port),
    ISSUER: url,
    METRICS_PORT: String(metricsPort),
    DATABASE_URL: databaseUrl,
    DATABASE_SCHEMA: schema,
    DATA_DIR: tmp,
    SMTP_URL: smtp.url,
    COOKIE_KEYS: randomBytes(32).toString('hex'),
    PORTAL_ENABLED: 'false',
    EXAMPLE_APP_ENABLED: 'false',
    PORTAL_CLIENT_SECRET: randomBytes(32).toString('hex'),
    PORTAL_URL: 'http://127.0.0.1:9',
    SEED_DEMO: 'false',
    LOG_LEVEL: 'warn',
    PURGE_INTERVAL_SECONDS: '0',
    // Only the email code: the typing-pattern page would add a step to every sign-in.
    MFA_FACTORS: 'email',
    // Every request comes from 127.0.0.1: the per-address limits would refuse the storm.
    RATE_LIMIT_LOGIN_POINTS: '100000',
    RATE_LIMIT_REGISTER_POINTS: '100000',
    RATE_LIMIT_RECOVERY_POINTS: '100000',
    // e.g. BENCH_IDP_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the IdP process.
    ...(process.env.BENCH_IDP_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_IDP_NODE_OPTIONS } : {}),
    ...opts.env,
  };
  let child: ChildProcess | undefined;
  let output = '';
  const dropSchema = async () => {
    const c = new pg.Client({ connectionString: databaseUrl });
    await c.connect();
    try {
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    } finally {
      await c.end();
    }
  };
  const stop = async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await smtp.stop();
    await dropSchema().catch((err) => process.stderr.write(`could not drop schema ${schema}: ${(err as Error).message}\n`));
    rmSync(tmp, { recursive: true, force: true });
  };
  try {
    child = spawn(process.execPath, ['src/main.ts'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => { output = (output + d).slice(-20_000); });
    child.stderr!.on('data', (d) => { output = (output + d).slice(-20_000); });
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the IdP exited (${child.exitCode}):\n${output}`);
      const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`the IdP did not answer /healthz within 60 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const addClient = async (extra: string[]) => {
      const out = JSON.parse(await runCli(env, ['clients', 'add', '--name', 'Benchmark', '--redirect-uri', REDIRECT_URI, '--first-party', ...extra])) as { client_id: string; client_secret?: string };
      return { clientId: out.client_id, clientSecret: out.client_secret, redirectUri: REDIRECT_URI };
    };
    const confidential = await addClient([]);
    const publicClient = await addClient(['--public']);
    const producers = Array.from({ length: opts.producers }, (_, i) => ({
      producerNumber: String(700000000 + i),
      npn: String(80000000 + i),
      zip: '60601',
      email: `bench.producer.${i}@example.com`,
      username: benchUsername(i),
    }));
    const csv = ['producer_number,npn,first_name,last_name,agency_name,email,mobile_phone,business_zip,bap_zip,parent_producer_number,status',
      ...producers.map((p, i) => `${p.producerNumber},${p.npn},Bench,Producer${i},Benchmark Agency,${p.email},(312) 555-01${String(i % 100).padStart(2, '0')},${p.zip},,,active`)].join('\n');
    const csvFile = path.join(tmp, 'producers.csv');
    writeFileSync(csvFile, `${csv}\n`);
    await runCli(env, ['producers', 'import', csvFile]);
    const discovery = await (await fetch(`${url}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    let serviceClient: BenchClient | undefined;
    if (Array.isArray(discovery.grant_types_supported) && discovery.grant_types_supported.includes('client_credentials')) {
      const out = await runCli(env, ['clients', 'add', '--name', 'Benchmark service', '--grant', 'client_credentials', '--scope', 'hierarchy:read']).catch(() => undefined);
      if (out) {
        const m = JSON.parse(out) as { client_id: string; client_secret?: string };
        serviceClient = { clientId: m.client_id, clientSecret: m.client_secret, redirectUri: '' };
      }
    }
    return {
      url, pid: child.pid!, metricsUrl, discovery, smtp, confidential, publicClient, serviceClient, producers,
      async metric(name) {
        const text = await (await fetch(metricsUrl)).text();
        let sum = 0;
        for (const line of text.split('\n')) if (line.startsWith(name) && /^[a-z_]+(\{| )/.test(line) && line.split(/[{ ]/)[0] === name) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
        return sum;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---------- journeys ----------

/** PKCE S256 pair (RFC 7636 §4.1-4.2). */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The authorization request path (code flow, PKCE S256, state, nonce) for `client`. */
export function authPath(client: BenchClient, challenge: string, scope = 'openid profile email producer'): string {
  return `/auth?${new URLSearchParams({
    client_id: client.clientId, redirect_uri: client.redirectUri, response_type: 'code', scope,
    state: randomBytes(8).toString('base64url'), nonce: randomBytes(8).toString('base64url'),
    code_challenge: challenge, code_challenge_method: 'S256',
  })}`;
}

/** Token endpoint request headers/body for `client` (client_secret_basic, or client_id for a public one). */
export function tokenRequest(client: BenchClient, form: Record<string, string>): { form: Record<string, string>; headers: Record<string, string> } {
  if (!client.clientSecret) return { form: { ...form, client_id: client.clientId }, headers: {} };
  const basic = Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`).toString('base64');
  return { form, headers: { authorization: `Basic ${basic}` } };
}

/** Tokens of a finished sign-in. */
export interface Tokens { access_token: string; id_token: string; refresh_token?: string }

/** Step names of a sign-in, in order (the timing columns). */
export const STEPS = ['auth', 'login page', 'password', 'resume', 'token'] as const;

/**
 * A returning producer's sign-in on a remembered device: authorization request with PKCE → login
 * page → Username/Password → resume → /token. `timings` receives each step's duration, ms.
 * @throws Error when any step does not answer as a successful sign-in does.
 */
export async function signIn(url: string, client: BenchClient, p: BenchProducer, timings?: Record<string, number[]>): Promise<Tokens> {
  const jar = p.deviceJar.clone();
  const { verifier, challenge } = pkce();
  const timed = async <T>(step: string, fn: () => Promise<T>) => {
    const t = performance.now();
    const r = await fn();
    timings?.[step]?.push(performance.now() - t);
    return r;
  };
  const auth = expect(await timed('auth', () => http(url, jar, 'GET', authPath(client, challenge))), 303, 'authorization request');
  const page = expect(await timed('login page', () => http(url, jar, 'GET', auth.location!)), 200, 'login page');
  const uid = new URL(auth.location!, url).pathname.split('/')[2]!;
  const pw = expect(await timed('password', () => http(url, jar, 'POST', `/interaction/${uid}/login`, { form: { _csrf: csrfIn(page.text), username: p.username, password: BENCH_PASSWORD } })), 303, 'password (is the device remembered?)');
  const resume = expect(await timed('resume', () => http(url, jar, 'GET', pw.location!)), 303, 'resume');
  const code = new URL(resume.location!).searchParams.get('code');
  if (!code) throw new Error(`resume did not return a code: ${resume.location}`);
  const tr = tokenRequest(client, { grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, code_verifier: verifier });
  const token = expect(await timed('token', () => http(url, null, 'POST', '/token', tr)), 200, 'token');
  return JSON.parse(token.text) as Tokens;
}

/**
 * Registers producer `p` through the pages (Terms of Use → producer information → secure login →
 * the confirmation link from the mail; a link page with a button is submitted too), then signs in
 * once with the email code and "Remember this device". Returns the browser that remembers it.
 */
export async function registerThroughPages(bench: Bench, p: Bench['producers'][number]): Promise<BenchProducer> {
  const { url } = bench;
  const jar = new Jar();
  const terms = expect(await http(url, jar, 'GET', '/register'), 200, 'terms page');
  const version = /name="version" value="([^"]+)"/.exec(terms.text)?.[1] ?? '';
  expect(await http(url, jar, 'POST', '/register/terms', { form: { _csrf: csrfIn(terms.text), decision: 'accept', version } }), 303, 'accept terms');
  const step1 = expect(await http(url, jar, 'GET', '/register/producer'), 200, 'producer page');
  expect(await http(url, jar, 'POST', '/register/producer', { form: { _csrf: csrfIn(step1.text), producerNumber: p.producerNumber, npn: p.npn, zip: p.zip } }), 303, 'producer information');
  const step2 = expect(await http(url, jar, 'GET', '/register/login'), 200, 'secure login page');
  expect(await http(url, jar, 'POST', '/register/login', { form: { _csrf: csrfIn(step2.text), username: p.username, password: BENCH_PASSWORD } }), 303, 'create login');
  const mail = await bench.smtp.waitFor(p.email, /Confirm/, 30_000);
  const link = /https?:\/\/\S*\/verify-email\S*/.exec(mail.text)?.[0];
  if (!link) throw new Error(`no confirmation link in mail to ${p.email}`);
  const linkUrl = new URL(link);
  const confirm = expect(await http(url, jar, 'GET', linkUrl.pathname + linkUrl.search), [200, 303], 'confirmation link');
  // A link that shows a page with a button (so mail scanners cannot confirm): submit its form.
  const form = /<form[^>]*method="post"[^>]*action="([^"]*verify-email[^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(confirm.text);
  if (form) {
    const fields = Object.fromEntries([...form[2]!.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!.replace(/&amp;/g, '&')]));
    expect(await http(url, jar, 'POST', form[1]!.replace(/&amp;/g, '&'), { form: fields }), [200, 303], 'confirm button');
  }
  // First sign-in: password, then Verify your Account by email code with "Remember this device".
  const client = bench.confidential;
  const { challenge } = pkce();
  const auth = expect(await http(url, jar, 'GET', authPath(client, challenge)), 303, 'authorization request');
  const uid = new URL(auth.location!, url).pathname.split('/')[2]!;
  const page = expect(await http(url, jar, 'GET', auth.location!), 200, 'login page');
  const pw = expect(await http(url, jar, 'POST', `/interaction/${uid}/login`, { form: { _csrf: csrfIn(page.text), username: p.username, password: BENCH_PASSWORD } }), [200, 303], 'password');
  let verifyPage = pw;
  if (pw.status === 303) verifyPage = expect(await http(url, jar, 'GET', pw.location!), 200, 'verify your account');
  if (!verifyPage.text.includes('Verify your Account')) throw new Error(`expected Verify your Account after the first password: ${verifyPage.text.slice(0, 300)}`);
  const before = bench.smtp.messages.filter((m) => m.to === p.email && /verification code/i.test(m.subject)).length;
  // Send Code answers with a 303 to the interaction (GET-after-POST), whose page asks for the code.
  const sent = expect(await http(url, jar, 'POST', `/interaction/${uid}/login`, { form: { _csrf: csrfIn(verifyPage.text), action: 'choose', factor: 'email' } }), 303, 'choose email');
  const chosen = expect(await http(url, jar, 'GET', sent.location!), 200, 'enter the code');
  const deadline = Date.now() + 30_000;
  let codeMail;
  while (!(codeMail = bench.smtp.messages.filter((m) => m.to === p.email && /verification code/i.test(m.subject))[before])) {
    if (Date.now() > deadline) throw new Error(`no verification code mail to ${p.email}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const code = /\b([A-HJ-NP-Z2-9]{8})\b/.exec(codeMail.text)?.[1];
  if (!code) throw new Error('no code in the verification mail');
  const done = expect(await http(url, jar, 'POST', `/interaction/${uid}/login`, { form: { _csrf: csrfIn(chosen.text), action: 'verify', code, remember: 'yes' } }), 303, 'verify code');
  expect(await http(url, jar, 'GET', done.location!), 303, 'resume after the code');
  // Keep only what a returning browser keeps between visits: the remembered-device cookies.
  return { username: p.username, email: p.email, deviceJar: jar.clone((name) => name.startsWith('pidp.device')) };
}

/** Registers every producer, `concurrency` at a time. */
export async function registerAll(bench: Bench, concurrency = 4): Promise<BenchProducer[]> {
  const out: BenchProducer[] = new Array(bench.producers.length);
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < bench.producers.length) {
      const i = next++;
      out[i] = await registerThroughPages(bench, bench.producers[i]!);
    }
  }));
  return out;
}

// ---------- load ----------

/** Result of {@link storm}: completed operations, errors (first message kept), wall time, s. */
export interface StormResult { ok: number; errors: number; firstError?: string; seconds: number }

/**
 * Runs `op(worker)` in `concurrency` loops until `seconds` have passed or `maxOps` operations were
 * started (both bounds always apply).
 */
export async function storm(concurrency: number, seconds: number, maxOps: number, op: (worker: number) => Promise<void>): Promise<StormResult> {
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let started = 0;
  const r: StormResult = { ok: 0, errors: 0, seconds: 0 };
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    while (performance.now() < deadline && started < maxOps) {
      started++;
      try {
        await op(w);
        r.ok++;
      } catch (err) {
        r.errors++;
        r.firstError ??= (err as Error).message;
      }
    }
  }));
  r.seconds = (performance.now() - start) / 1000;
  return r;
}

/**
 * Probes discovery every `everyMs` while `running()` is true, one request at a time.
 * @returns the latencies, ms.
 */
export async function probeDiscovery(url: string, running: () => boolean, everyMs = 50): Promise<number[]> {
  const out: number[] = [];
  while (running()) {
    const t = performance.now();
    await fetch(`${url}/.well-known/openid-configuration`).then((r) => r.arrayBuffer()).catch(() => undefined);
    out.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return out;
}

/**
 * Measures one storm against the IdP: CPU of its main thread and of its other threads (the libuv
 * pool, GC and compiler threads), SQL statements (the `producer_idp_db_queries_total` counter),
 * resident memory sampled every 100 ms, and discovery probe latencies.
 */
export async function measured(bench: Bench, run: () => Promise<StormResult>): Promise<StormResult & { mainMs: number; poolMs: number; queries: number; peakRssMiB: number; hwmMiB: number; probe: number[] }> {
  const q0 = await bench.metric('producer_idp_db_queries_total');
  const c0 = cpuOf(bench.pid);
  let running = true;
  let peak = 0;
  const sampler = setInterval(() => { peak = Math.max(peak, memoryOf(bench.pid).rss); }, 100);
  const probe = probeDiscovery(bench.url, () => running);
  const r = await run();
  running = false;
  clearInterval(sampler);
  const c1 = cpuOf(bench.pid);
  const q1 = await bench.metric('producer_idp_db_queries_total');
  const mem = memoryOf(bench.pid);
  return { ...r, mainMs: c1.main - c0.main, poolMs: (c1.total - c1.main) - (c0.total - c0.main), queries: q1 - q0, peakRssMiB: Math.max(peak, mem.rss), hwmMiB: mem.hwm, probe: await probe };
}

/**
 * The argon2id bound H: runs bench/argon2-bound.ts in a child process (the product's PasswordHasher,
 * default parameters) with `concurrency` verifies in flight for `seconds`.
 * @returns verifies per second and CPU per verify (ms).
 */
export function argon2Bound(concurrency: number, seconds: number): Promise<{ perSecond: number; cpuMsPerVerify: number; verifies: number }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['bench/argon2-bound.ts', String(concurrency), String(seconds)], { cwd: repoRoot, timeout: (seconds + 60) * 1000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`argon2 bound failed: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1)!));
    });
  });
}

/** Reads `--name=value` from the command line (number), or the default. */
export function numberArg(name: string, fallback: number): number {
  const a = process.argv.slice(2).find((x) => x.startsWith(`--${name}=`));
  const v = a ? Number(a.slice(name.length + 3)) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`bad --${name}: ${a}`);
  return v;
}

/** `--node-env=test|development` (default `test`), the IdP's NODE_ENV. */
export function nodeEnvArg(): 'test' | 'development' {
  const a = process.argv.slice(2).find((x) => x.startsWith('--node-env='))?.slice('--node-env='.length) ?? 'test';
  if (a !== 'test' && a !== 'development') throw new Error(`bad --node-env: ${a} (test or development)`);
  return a;
}

/** Reads `--name=a,b,c` as numbers, or the default. */
export function listArg(name: string, fallback: number[]): number[] {
  const a = process.argv.slice(2).find((x) => x.startsWith(`--${name}=`));
  if (!a) return fallback;
  const v = a.slice(name.length + 3).split(',').map(Number);
  if (v.some((x) => !Number.isInteger(x) || x <= 0)) throw new Error(`bad --${name}: ${a}`);
  return v;
}
