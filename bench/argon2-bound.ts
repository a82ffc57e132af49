/**
 * The argon2id bound H of the sign-in benchmark (issue 12): `node bench/argon2-bound.ts C SECONDS`.
 * Keeps C verifications in flight with the product's own PasswordHasher (src/security/passwords.ts,
 * default parameters m=19456 KiB, t=2, p=1) for SECONDS, then prints one JSON line:
 * `{"verifies":N,"perSecond":N/s,"cpuMsPerVerify":ms}` (CPU of the whole process, ms per verify).
 */
import { PasswordHasher } from '../src/security/passwords.ts';

const concurrency = Number(process.argv[2] ?? 4);
const seconds = Number(process.argv[3] ?? 10);
if (!Number.isInteger(concurrency) || concurrency < 1 || !(seconds > 0)) {
  process.stderr.write('usage: node bench/argon2-bound.ts CONCURRENCY SECONDS\n');
  process.exit(2);
}
const hasher = new PasswordHasher({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
const phc = await hasher.hash('Qz7!kR9{mW');
await hasher.verify(phc, 'Qz7!kR9{mW'); // warm-up
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const deadline = t0 + seconds * 1000;
let verifies = 0;
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (performance.now() < deadline && verifies < 1_000_000) {
    if (!(await hasher.verify(phc, 'Qz7!kR9{mW'))) throw new Error('verify returned false');
    verifies++;
  }
}));
const wall = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(`${JSON.stringify({ verifies, perSecond: verifies / wall, cpuMsPerVerify: (cpu.user + cpu.system) / 1000 / verifies })}\n`);
