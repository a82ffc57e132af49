/**
 * Grants benchmark (issue 12): `npm run bench:grants [-- --concurrency=16 --seconds=S]`.
 *
 * The same harness as bench:login (bench/harness.ts: own schema, IdP process, clients registered with
 * the CLI, producers registered through the pages with a remembered device). Each producer signs in
 * once with the confidential client and once with the public one; then, for each concurrency, each
 * of these runs for S seconds with that many requests in flight:
 *  - refresh, confidential client (client_secret_basic; oidc-provider does not rotate its refresh token);
 *  - refresh, public client (PKCE; its refresh token rotates at every use, RFC 9700 §4.14.2);
 *  - userinfo (GET, Bearer access token);
 *  - introspection (RFC 7662) and client_credentials (RFC 6749 §4.4, a `--grant client_credentials`
 *    client asking for `hierarchy:read` at the producer API), when discovery advertises them;
 *    otherwise skipped with a note;
 *  - discovery and JWKS.
 * Prints a table and one JSON line: operations/s, p50/p99 (ms), SQL statements per operation
 * (producer_idp_db_queries_total), main-thread and other-thread CPU per operation (ms), the p99 of
 * a discovery probe during the run, peak RSS (MiB). Defaults: c = 16, 10 s per run.
 */
import {
  nodeEnvArg, fmt, http, listArg, machine, measured, numberArg, percentile, registerAll, signIn, startBench, storm, table, tokenRequest, type Tokens,
} from './harness.ts';

const concurrencies = listArg('concurrency', [16]);
const seconds = numberArg('seconds', 10);
const producersN = Math.max(...concurrencies);

const started = new Date();
const m0 = machine();
process.stderr.write(`bench:grants: ${m0.cpus} CPU (${m0.model}), load ${m0.load1.toFixed(2)}; setting up ${producersN} producers…\n`);
const bench = await startBench({ producers: producersN });
process.once('SIGINT', () => void bench.stop().finally(() => process.exit(130)));
try {
  const { url, discovery, confidential, publicClient } = bench;
  const producers = await registerAll(bench, 4);
  const confidentialTokens: Tokens[] = [];
  const publicTokens: Tokens[] = [];
  for (const p of producers) {
    confidentialTokens.push(await signIn(url, confidential, p));
    publicTokens.push(await signIn(url, publicClient, p));
  }
  if (!confidentialTokens[0]!.refresh_token || !publicTokens[0]!.refresh_token) throw new Error('the sign-ins returned no refresh token');
  const pathOf = (key: string) => {
    const v = discovery[key];
    return typeof v === 'string' ? new URL(v).pathname : undefined;
  };
  const tokenPath = pathOf('token_endpoint')!;
  const ok = (status: number, what: string) => (r: { status: number; text: string }) => {
    if (r.status !== status) throw new Error(`${what}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
    return r;
  };

  type Op = { name: string; run: (w: number) => Promise<unknown> };
  const ops: Op[] = [];
  const notes: string[] = [];
  ops.push({
    name: 'refresh (confidential, no rotation)',
    run: (w) => http(url, null, 'POST', tokenPath, tokenRequest(confidential, { grant_type: 'refresh_token', refresh_token: confidentialTokens[w % producersN]!.refresh_token! })).then(ok(200, 'refresh')),
  });
  const rotating = publicTokens.map((t) => t.refresh_token!);
  ops.push({
    name: 'refresh (public, rotating)',
    run: async (w) => {
      const i = w % producersN;
      const r = ok(200, 'rotating refresh')(await http(url, null, 'POST', tokenPath, tokenRequest(publicClient, { grant_type: 'refresh_token', refresh_token: rotating[i]! })));
      rotating[i] = (JSON.parse(r.text) as Tokens).refresh_token ?? rotating[i]!;
    },
  });
  const userinfo = pathOf('userinfo_endpoint')!;
  ops.push({
    name: 'userinfo',
    run: (w) => http(url, null, 'GET', userinfo, { headers: { authorization: `Bearer ${confidentialTokens[w % producersN]!.access_token}` } }).then(ok(200, 'userinfo')),
  });
  const introspection = pathOf('introspection_endpoint');
  if (!introspection) notes.push('introspection: not in discovery (not built yet): skipped');
  else {
    const probe = await http(url, null, 'POST', introspection, tokenRequest(confidential, { token: confidentialTokens[0]!.access_token }));
    if (probe.status !== 200 || !probe.text.includes('"active":true')) notes.push(`introspection: the benchmark client was answered ${probe.status} ${probe.text.slice(0, 120)}: skipped`);
    else ops.push({ name: 'introspection', run: (w) => http(url, null, 'POST', introspection, tokenRequest(confidential, { token: confidentialTokens[w % producersN]!.access_token })).then(ok(200, 'introspection')) });
  }
  const grantTypes = Array.isArray(discovery.grant_types_supported) ? discovery.grant_types_supported : [];
  if (!grantTypes.includes('client_credentials')) notes.push('client_credentials: not in discovery (not built yet): skipped');
  else if (!bench.serviceClient) notes.push('client_credentials: `clients add --grant client_credentials --scope hierarchy:read` failed: skipped');
  else {
    const service = bench.serviceClient;
    const form = { grant_type: 'client_credentials', scope: 'hierarchy:read', resource: `${url}/api` };
    const probe = await http(url, null, 'POST', tokenPath, tokenRequest(service, form));
    if (probe.status !== 200) notes.push(`client_credentials: the service client was answered ${probe.status} ${probe.text.slice(0, 160)}: skipped`);
    else ops.push({ name: 'client_credentials', run: () => http(url, null, 'POST', tokenPath, tokenRequest(service, form)).then(ok(200, 'client_credentials')) });
  }
  ops.push({ name: 'discovery', run: () => http(url, null, 'GET', '/.well-known/openid-configuration').then(ok(200, 'discovery')) });
  const jwks = pathOf('jwks_uri')!;
  ops.push({ name: 'jwks', run: () => http(url, null, 'GET', jwks).then(ok(200, 'jwks')) });

  // Warm-up.
  for (const op of ops) await storm(4, 1, 200, (w) => op.run(w).then(() => undefined));

  const rows = [];
  for (const c of concurrencies) {
    for (const op of ops) {
      const lat: number[] = [];
      const r = await measured(bench, () => storm(c, seconds, 200_000, async (w) => {
        const t = performance.now();
        await op.run(w);
        lat.push(performance.now() - t);
      }));
      const n = Math.max(1, r.ok);
      rows.push({
        operation: op.name, concurrency: c, perSecond: r.ok / r.seconds, ops: r.ok, errors: r.errors, firstError: r.firstError,
        p50: percentile(lat, 50), p99: percentile(lat, 99), sqlPerOp: r.queries / n, mainCpuMsPerOp: r.mainMs / n, poolCpuMsPerOp: r.poolMs / n,
        discoveryProbeP99: percentile(r.probe, 99), peakRssMiB: r.peakRssMiB, load1: machine().load1,
      });
      process.stderr.write(`c=${c} ${op.name}: ${fmt(r.ok / r.seconds)}/s${r.errors ? `, ${r.errors} errors (${r.firstError})` : ''}\n`);
    }
  }
  const header = ['operation', 'c', 'ops/s', 'p50 ms', 'p99 ms', 'SQL/op', 'main ms/op', 'pool ms/op', 'discovery p99', 'peak RSS MiB', 'errors'];
  process.stdout.write(`\nGrants and endpoints, NODE_ENV=${nodeEnvArg()}, ${m0.cpus} CPU, load ${m0.load1.toFixed(2)} at start\n`);
  process.stdout.write(`${table(header, rows.map((r) => [r.operation, String(r.concurrency), r.perSecond, r.p50, r.p99, r.sqlPerOp, r.mainCpuMsPerOp, r.poolCpuMsPerOp, r.discoveryProbeP99, r.peakRssMiB, String(r.errors)]))}\n`);
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
  process.stdout.write(`\n${JSON.stringify({ bench: 'grants', at: started.toISOString(), machine: { ...m0, loadEnd: machine().load1 }, nodeEnv: nodeEnvArg(), seconds, rows, notes })}\n`);
} finally {
  await bench.stop();
}
