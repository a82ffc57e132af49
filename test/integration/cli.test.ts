/**
 * The administration CLI (`npm run cli -- …`) run for real as a child process against PostgreSQL,
 * in a fresh schema for this file (dropped at the end). All data is generated and fictitious.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliHarness } from '../helpers/cli.ts';
import { TEST_DATABASE_URL } from '../helpers/idp.ts';

const { schema, tmp, cli } = cliHarness('t_cli');
let client: pg.Client;

/** Writes `content` to a new file in the temporary folder and returns its path. */
function tmpFile(name: string, content: string): string {
  const file = path.join(tmp, name);
  writeFileSync(file, content);
  return file;
}

const CSV_HEADER = 'producer_number,npn,first_name,last_name,agency_name,email,mobile_phone,business_zip,bap_zip,parent_producer_number,status';

/** `count` fictitious producers numbered from `start` (producer number 7xxxxxxxx, example.test mail). */
function producerRows(start: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const n = start + i;
    return [
      String(700000000 + n),
      String(88000000 + n),
      `Testfirst${n}`,
      `Testlast${n}`,
      `Fictional Agency ${n % 3}`,
      `producer${n}@example.test`,
      `312-555-${String(100 + (n % 100)).padStart(4, '0')}`,
      '60601',
      '',
      '',
      n % 2 ? 'active' : 'inactive',
    ].join(',');
  });
}

async function countProducers(): Promise<number> {
  const { rows } = await client.query(`SELECT count(*)::int AS n FROM "${schema}".producer_records`);
  return rows[0].n;
}

beforeAll(async () => {
  client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
});

afterAll(async () => {
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
  rmSync(tmp, { recursive: true, force: true });
});

describe('cli', () => {
  it('db migrate applies the migrations, then says up to date', async () => {
    const first = await cli(['db', 'migrate']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^applied: 0001_initial$/m);
    const second = await cli(['db', 'migrate']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout.trim()).toBe('up to date');
  });

  it('producers import inserts a valid file, and updates on a second import', async () => {
    const file = tmpFile('good.csv', [CSV_HEADER, ...producerRows(1, 12)].join('\n') + '\n');
    const first = await cli(['producers', 'import', file]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout.trim()).toBe('imported: 12 new, 0 updated');

    const second = await cli(['producers', 'import', file]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout.trim()).toBe('imported: 0 new, 12 updated');

    expect(await countProducers()).toBe(12);
    const { rows } = await client.query(
      `SELECT producer_number, npn, first_name, email, mobile_phone, business_zip, status FROM "${schema}".producer_records WHERE producer_number = $1`,
      ['700000002'],
    );
    expect(rows).toEqual([
      {
        producer_number: '700000002',
        npn: '88000002',
        first_name: 'Testfirst2',
        email: 'producer2@example.test',
        mobile_phone: '+13125550102',
        business_zip: '60601',
        status: 'inactive',
      },
    ]);
  });

  it('producers import marking a producer inactive makes their delegations inactive, audited for both people (issue 14)', async () => {
    const file = tmpFile('delegating.csv', [CSV_HEADER, ...producerRows(301, 1)].join('\n') + '\n');
    expect((await cli(['producers', 'import', file])).code).toBe(0); // 700000301, active
    const q = (sql: string, values: unknown[] = []) => client.query(sql.replaceAll('S.', `"${schema}".`), values);
    await q(`INSERT INTO S.accounts (id, username, username_normalized, producer_number, password_hash, password_changed_at, status, created_at, email_verified_at)
             VALUES ('acct-p301', 'Prod301x', 'prod301x', '700000301', 'x', now(), 'active', now(), now())`);
    await q(`INSERT INTO S.accounts (id, username, username_normalized, kind, first_name, last_name, email, password_hash, password_changed_at, status, created_at, email_verified_at)
             VALUES ('acct-d301', 'Dele301x', 'dele301x', 'delegate', 'Dee', 'Legate', 'dee@example.test', 'x', now(), 'active', now(), now())`);
    await q(`INSERT INTO S.delegations (id, producer_number, producer_account_id, delegate_account_id, first_name, last_name, email, permissions, status, invited_at, accepted_at)
             VALUES ('dlg-301', '700000301', 'acct-p301', 'acct-d301', 'Dee', 'Legate', 'dee@example.test', '{quote_enroll}', 'active', now(), now())`);
    const inactive = tmpFile('delegating-inactive.csv', [CSV_HEADER, producerRows(301, 1)[0]!.replace(/,active$/, ',inactive')].join('\n') + '\n');
    const res = await cli(['producers', 'import', inactive]);
    expect(res.code, res.stderr).toBe(0);
    const { rows } = await q(`SELECT account_id, details->>'delegationId' AS delegation FROM S.audit_events WHERE type = 'delegate.deactivated' ORDER BY account_id`);
    expect(rows).toEqual([{ account_id: 'acct-d301', delegation: 'dlg-301' }, { account_id: 'acct-p301', delegation: 'dlg-301' }]);
    // A second import of the same inactive record audits nothing new.
    expect((await cli(['producers', 'import', inactive])).code).toBe(0);
    expect((await q(`SELECT count(*)::int AS n FROM S.audit_events WHERE type = 'delegate.deactivated'`)).rows[0].n).toBe(2);

    // The Service Desk sees both sides with `delegates list`.
    const producer = await cli(['delegates', 'list', 'prod301X']);
    expect(producer.code, producer.stderr).toBe(0);
    const p = JSON.parse(producer.stdout);
    expect(p).toMatchObject({ username: 'Prod301x', kind: 'producer', producer_number: '700000301', works_for: [] });
    expect(p.delegates).toHaveLength(1);
    expect(p.delegates[0]).toMatchObject({ id: 'dlg-301', delegate_account_id: 'acct-d301', invited: { first_name: 'Dee', last_name: 'Legate', email: 'dee@example.test' }, permissions: ['quote_enroll'] });
    const delegate = JSON.parse((await cli(['delegates', 'list', 'Dele301x'])).stdout);
    expect(delegate).toMatchObject({ kind: 'delegate', producer_number: null, delegates: [] });
    expect(delegate.works_for.map((d: { id: string; status: string }) => d.id)).toEqual(['dlg-301']);
    const unknown = await cli(['delegates', 'list', 'Nobody301']);
    expect([unknown.code, unknown.stderr.trim()]).toEqual([1, 'no such account: Nobody301']);
  });

  it('producers import with one bad row reports its line and writes nothing', async () => {
    const before = await countProducers();
    const rows = producerRows(100, 6);
    rows[3] = rows[3]!.replace('producer103@example.test', 'not-an-email'); // file line 5
    const file = tmpFile('one-bad.csv', [CSV_HEADER, ...rows].join('\n') + '\n');
    const result = await cli(['producers', 'import', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^line 5: email "not-an-email" is not a valid email address$/m);
    expect(result.stderr).toContain('nothing imported');
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(result.stdout).toBe('');
    expect(await countProducers()).toBe(before);
  });

  it('producers import --dry-run validates and writes nothing', async () => {
    const before = await countProducers();
    const file = tmpFile('dry.csv', [CSV_HEADER, ...producerRows(200, 4)].join('\n') + '\n');
    const result = await cli(['producers', 'import', file, '--dry-run']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe('valid: 4 rows (dry run, nothing written)');
    expect(await countProducers()).toBe(before);
  });

  it('producers import of a missing file says so and exits 1', async () => {
    const result = await cli(['producers', 'import', path.join(tmp, 'missing.csv')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/cannot read producer CSV .*missing\.csv: no such file/);
  });

  it('clients add registers a confidential client with a secret, and a public one without', async () => {
    const confidential = await cli([
      'clients', 'add', '--name', 'Fictional Agency App',
      '--redirect-uri', 'https://agency.example.test/callback',
      '--redirect-uri', 'https://agency.example.test/callback2',
      '--post-logout-redirect-uri', 'https://agency.example.test/bye',
    ]);
    expect(confidential.code, confidential.stderr).toBe(0);
    const c = JSON.parse(confidential.stdout);
    expect(c.client_id).toMatch(/^[\w-]{16,}$/);
    expect(c.client_secret).toMatch(/^[\w-]{43,}$/);
    expect(c).toMatchObject({
      client_name: 'Fictional Agency App',
      redirect_uris: ['https://agency.example.test/callback', 'https://agency.example.test/callback2'],
      post_logout_redirect_uris: ['https://agency.example.test/bye'],
      token_endpoint_auth_method: 'client_secret_basic',
      first_party: false,
    });

    const pub = await cli(['clients', 'add', '--name', 'Fictional Mobile App', '--redirect-uri', 'http://localhost:8123/cb', '--public', '--first-party']);
    expect(pub.code, pub.stderr).toBe(0);
    const p = JSON.parse(pub.stdout);
    expect(p).not.toHaveProperty('client_secret');
    expect(p).toMatchObject({ token_endpoint_auth_method: 'none', first_party: true, redirect_uris: ['http://localhost:8123/cb'] });
  });

  it('clients add refuses a redirect URI with a fragment (exit 1) and missing options (exit 2)', async () => {
    const fragment = await cli(['clients', 'add', '--name', 'Bad App', '--redirect-uri', 'https://bad.example.test/cb#frag']);
    expect(fragment.code).toBe(1);
    expect(fragment.stderr).toMatch(/fragment/);
    expect(fragment.stderr).not.toMatch(/\n\s+at /);

    const missing = await cli(['clients', 'add', '--name', 'No Redirect App']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--redirect-uri');
    expect(missing.stderr).toContain('Usage:');
  });

  it('clients list shows no secrets; clients remove removes, then says no such client', async () => {
    const added = await cli(['clients', 'add', '--name', 'Short-lived App', '--redirect-uri', 'https://short.example.test/cb']);
    expect(added.code, added.stderr).toBe(0);
    const { client_id: id } = JSON.parse(added.stdout);

    const list = await cli(['clients', 'list']);
    expect(list.code, list.stderr).toBe(0);
    const clients = JSON.parse(list.stdout) as Record<string, unknown>[];
    expect(clients.map((x) => x.client_id)).toContain(id);
    expect(clients.length).toBeGreaterThanOrEqual(3);
    for (const x of clients) expect(x).not.toHaveProperty('client_secret');
    expect(list.stdout).not.toContain('"client_secret"');

    const removed = await cli(['clients', 'remove', id]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout.trim()).toBe(`removed ${id}`);

    const again = await cli(['clients', 'remove', id]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe(`no such client: ${id}`);
  });

  it('terms publish activates a version; the same version again exits 1; an empty file is refused', async () => {
    const file = tmpFile('terms.txt', 'Fictional Terms of Use, version 7.3.\nUse the portal responsibly.\n');
    const first = await cli(['terms', 'publish', file, '--version', '7.3']);
    expect(first.code, first.stderr).toBe(0);
    const { rows } = await client.query(`SELECT version, body FROM "${schema}".terms WHERE is_active`);
    expect(rows).toEqual([{ version: '7.3', body: 'Fictional Terms of Use, version 7.3.\nUse the portal responsibly.\n' }]);

    const again = await cli(['terms', 'publish', file, '--version', '7.3']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('7.3 already exists');

    const empty = await cli(['terms', 'publish', tmpFile('empty.txt', '  \n'), '--version', '7.4']);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('empty');
    const { rows: active } = await client.query(`SELECT version FROM "${schema}".terms WHERE is_active`);
    expect(active).toEqual([{ version: '7.3' }]);
  });

  it('help prints the usage listing every command; an unknown command exits 2', async () => {
    const help = await cli(['help']);
    expect(help.code).toBe(0);
    for (const command of ['db migrate', 'producers import', 'clients add', 'clients list', 'clients remove', 'terms publish']) {
      expect(help.stdout).toContain(command);
    }
    const none = await cli([]);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe(help.stdout);

    const unknown = await cli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command: frobnicate');
    expect(unknown.stderr).toContain('producers import');
  });

  it('refuses (exit 78, no stack) while another live process holds the embedded database', async () => {
    const dataDir = mkdtempSync(path.join(tmp, 'embedded-'));
    writeFileSync(path.join(dataDir, 'LOCK'), String(process.pid)); // this test runner: alive
    const result = await cli(['db', 'migrate'], { DATABASE_URL: undefined, DATA_DIR: dataDir });
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('npm start');
    expect(result.stderr).toMatch(/stop that process/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe('');
  });

  it('invalid configuration exits 78 naming the setting', async () => {
    const result = await cli(['clients', 'list'], { DATABASE_SCHEMA: 'Not-Valid' });
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('DATABASE_SCHEMA');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
