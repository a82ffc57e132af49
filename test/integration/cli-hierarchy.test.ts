import { writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { cliHarness } from '../helpers/cli.ts';
import { TEST_DATABASE_URL } from '../helpers/idp.ts';

/** `producers import` checks the hierarchy (issue 13): parents must exist, no cycles, nothing half-written. */
const { cli, schema, tmp } = cliHarness('hier');
const HEADER = 'producer_number,npn,first_name,last_name,agency_name,email,mobile_phone,business_zip,bap_zip,parent_producer_number,status';
const row = (n: number, parent: string) => `${900100000 + n},${39000000 + n},First${n},Last${n},Agency,p${n}@example.test,,60601,,${parent},active`;
const file = (name: string, rows: string[]) => {
  const p = path.join(tmp, name);
  writeFileSync(p, [HEADER, ...rows].join('\n'));
  return p;
};

afterAll(async () => {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
});

describe('producers import: hierarchy', () => {
  it('imports a three-level hierarchy; refuses a missing parent and a cycle with the stored producers, naming the lines, writing nothing', async () => {
    const missing = await cli(['producers', 'import', file('missing.csv', [row(1, ''), row(2, '900100077')])]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('line 3: parent_producer_number "900100077" is neither in this file nor among the stored producers');
    expect(missing.stderr).toContain('nothing imported');

    const ok = await cli(['producers', 'import', file('three.csv', [row(1, ''), row(2, '900100001'), row(3, '900100002')])]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout.trim()).toBe('imported: 3 new, 0 updated');

    // The top producer now points under its own grandchild: a cycle through stored links.
    const cycle = await cli(['producers', 'import', file('cycle.csv', [row(1, '900100003')])]);
    expect(cycle.code).toBe(1);
    expect(cycle.stderr).toContain('line 2: parent_producer_number makes a cycle: 900100001 → 900100003 → 900100002 → 900100001');
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    try {
      const top = await client.query(`SELECT parent_producer_number FROM "${schema}".producer_records WHERE producer_number = '900100001'`);
      expect(top.rows[0].parent_producer_number).toBeNull();
    } finally {
      await client.end();
    }
  });
});
