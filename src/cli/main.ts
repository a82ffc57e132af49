/**
 * Administration CLI entry (`npm run cli -- <command>`, i.e. `node src/cli/main.ts <command>`).
 * Commands and exit codes: see ./usage.ts and ./errors.ts; dispatch: ./run.ts. The process exits
 * by itself once the command has closed the database; the exit code is set on `process.exitCode`.
 */
import { run } from './run.ts';

process.exitCode = await run(process.argv.slice(2));
