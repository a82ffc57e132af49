/** The usage text printed by `help`, with no arguments, and (on stderr) after a usage error. */
export const USAGE = `Usage: npm run cli -- <command> [options]
       (or: node src/cli/main.ts <command> [options])

Commands:
  db migrate
      Apply the pending database migrations; prints their names, or "up to date".
  producers import FILE.csv [--dry-run]
      Validate every row of the carrier's producer CSV, then insert or update all of them
      in one transaction. Any invalid row: each problem is printed as "line N: reason" and
      nothing is written. --dry-run only validates (the database is not opened).
  clients add --name NAME --redirect-uri URI [--redirect-uri URI ...]
              [--post-logout-redirect-uri URI ...] [--public] [--first-party]
      Register a relying party and print it as JSON, with its client_secret unless
      --public (public clients use PKCE and no secret). --first-party skips consent.
  clients list
      Print the registered clients as a JSON array (without secrets).
  clients remove CLIENT_ID
      Remove a client and every token issued to it.
  terms publish FILE --version VERSION
      Publish the text in FILE as a new Terms of Use version and make it the active one;
      producers accept it again at their next sign-in.
  help
      Show this text.

Configuration comes from the environment, exactly as for \`npm start\` (DATABASE_URL,
DATABASE_SCHEMA, DATA_DIR, ...). LOG_LEVEL defaults to silent.
Without DATABASE_URL the embedded database in DATA_DIR is used: stop \`npm start\` first.

Exit codes: 0 success; 1 failure (nothing written); 2 usage error;
            78 invalid configuration or embedded database in use.`;
