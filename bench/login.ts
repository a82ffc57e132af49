/**
 * Sign-in benchmark (issue 12): `npm run bench:login [-- --producers=N --concurrency=4,8,16,32 --seconds=S]`.
 *
 * Sets up its own schema, IdP process, clients and N producers (bench/harness.ts: registered through
 * the real pages, first sign-in with the email code and "Remember this device"). Then, for each
 * concurrency c, in the same minute:
 *  - H: the argon2id bound, verifies/s of the product's PasswordHasher with c in flight (child process);
 *  - L: full sign-ins of returning producers on remembered devices with c in flight: authorization
 *    request with PKCE → login page → password → resume → /token (no second factor).
 * Prints a table and one JSON line: L, H, L/H, p50/p99 of each step (ms), SQL statements per sign-in
 * (the producer_idp_db_queries_total counter), server main-thread and other-thread ("pool": libuv
 * pool, GC and compiler threads) CPU per sign-in (ms, from /proc), the p99 of a discovery probe
 * running during the storm (ms), and peak RSS (MiB). Loops are bounded by time and count.
 * Defaults: DATABASE_URL or the test database; 40 producers; c = 4, 8, 16, 32; 10 s per run;
 * NODE_ENV=test (`--node-env=development` to compare; see bench/harness.ts).
 */
import {
  nodeEnvArg, argon2Bound, fmt, listArg, machine, measured, numberArg, percentile, registerAll, signIn, startBench, STEPS, storm, table,
} from './harness.ts';

const producersN = numberArg('producers', 40);
const concurrencies = listArg('concurrency', [4, 8, 16, 32]);
const seconds = numberArg('seconds', 10);
if (producersN < Math.max(...concurrencies)) throw new Error('--producers must be at least the highest concurrency (one browser per producer)');

const started = new Date();
const m0 = machine();
process.stderr.write(`bench:login: ${m0.cpus} CPU (${m0.model}), load ${m0.load1.toFixed(2)}; setting up ${producersN} producers…\n`);
const bench = await startBench({ producers: producersN });
const stopOnSignal = () => void bench.stop().finally(() => process.exit(130));
process.once('SIGINT', stopOnSignal);
try {
  const t0 = performance.now();
  const producers = await registerAll(bench, 4);
  process.stderr.write(`registered ${producers.length} producers through the pages in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  // Warm-up: JIT, pool connections, caches.
  await storm(4, 3, 200, (w) => signIn(bench.url, bench.confidential, producers[w % producers.length]!).then(() => undefined));

  const rows = [];
  for (const c of concurrencies) {
    const h = await argon2Bound(c, seconds);
    const timings: Record<string, number[]> = Object.fromEntries(STEPS.map((s) => [s, []]));
    const total: number[] = [];
    let next = 0;
    const r = await measured(bench, () => storm(c, seconds, 100_000, async () => {
      const p = producers[next++ % producers.length]!;
      const t = performance.now();
      await signIn(bench.url, bench.confidential, p, timings);
      total.push(performance.now() - t);
    }));
    const l = r.ok / r.seconds;
    rows.push({
      concurrency: c,
      L: l,
      H: h.perSecond,
      LoverH: l / h.perSecond,
      signIns: r.ok,
      errors: r.errors,
      firstError: r.firstError,
      sqlPerSignIn: r.queries / Math.max(1, r.ok),
      mainCpuMsPerSignIn: r.mainMs / Math.max(1, r.ok),
      poolCpuMsPerSignIn: r.poolMs / Math.max(1, r.ok),
      argon2CpuMsPerVerify: h.cpuMsPerVerify,
      signInMs: { p50: percentile(total, 50), p99: percentile(total, 99) },
      steps: Object.fromEntries(STEPS.map((s) => [s, { p50: percentile(timings[s]!, 50), p99: percentile(timings[s]!, 99) }])),
      discoveryProbeMs: { n: r.probe.length, p50: percentile(r.probe, 50), p99: percentile(r.probe, 99) },
      peakRssMiB: r.peakRssMiB,
      vmHwmMiB: r.hwmMiB,
      load1: machine().load1,
    });
    process.stderr.write(`c=${c}: L ${fmt(l)}/s, H ${fmt(h.perSecond)}/s${r.errors ? `, ${r.errors} errors (${r.firstError})` : ''}\n`);
  }

  const header = ['c', 'L/s', 'H/s', 'L/H', 'SQL/sign-in', 'main ms', 'pool ms', 'sign-in p50/p99', ...STEPS.map((s) => `${s} p50/p99`), 'discovery p99', 'peak RSS MiB', 'errors'];
  const pair = (x: { p50: number; p99: number }) => `${fmt(x.p50)}/${fmt(x.p99)}`;
  process.stdout.write(`\nSign-ins of returning producers on remembered devices (ms unless noted), NODE_ENV=${nodeEnvArg()}, ${m0.cpus} CPU, load ${m0.load1.toFixed(2)} at start\n`);
  process.stdout.write(`${table(header, rows.map((r) => [String(r.concurrency), r.L, r.H, r.LoverH, r.sqlPerSignIn, r.mainCpuMsPerSignIn, r.poolCpuMsPerSignIn, pair(r.signInMs), ...STEPS.map((s) => pair(r.steps[s]!)), r.discoveryProbeMs.p99, r.peakRssMiB, String(r.errors)]))}\n\n`);
  process.stdout.write(`${JSON.stringify({ bench: 'login', at: started.toISOString(), machine: { ...m0, loadEnd: machine().load1 }, nodeEnv: nodeEnvArg(), producers: producersN, seconds, rows })}\n`);
} finally {
  await bench.stop();
}
