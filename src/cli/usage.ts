/** Synopsis and description of each command, by its two command words, in the order shown. */
export const COMMAND_USAGE: Readonly<Record<string, string>> = {
  'db migrate': `db migrate
      Apply the pending database migrations; prints their names, or "up to date".`,
  'db purge': `db purge
      Remove expired rows now (flows, codes, links, send history, rate-limit keys, expired
      sessions and tokens, old audit events) and print the count per table. The server
      does the same every PURGE_INTERVAL_SECONDS, one replica at a time.`,
  'producers import': `producers import FILE.csv [--dry-run]
      Validate every row of the carrier's producer CSV, then insert or update all of them
      in one transaction. Any invalid row: each problem is printed as "line N: reason" and
      nothing is written. --dry-run only validates (the database is not opened).`,
  'clients add': `clients add --name NAME --redirect-uri URI [--redirect-uri URI ...]
              [--post-logout-redirect-uri URI ...] [--public] [--first-party]
              [--token-endpoint-auth-method client_secret_basic|client_secret_post|private_key_jwt]
              [--jwks FILE | --jwks-uri URI] [--backchannel-logout-uri URI]
              [--id-token-signed-response-alg ES256|RS256]
         clients add --name NAME --grant client_credentials --scope "API SCOPES"
      Register a relying party and print it as JSON, with its client_secret unless
      --public (public clients use PKCE and no secret) or private_key_jwt. --first-party
      skips consent. --grant client_credentials: a machine-to-machine client (no redirect
      URIs; API scopes only, never openid). ID tokens are ES256-signed unless asked.`,
  'clients list': `clients list
      Print the registered clients as a JSON array (without secrets); registered_by says
      whether the CLI (cli) or dynamic registration (dynamic_registration) created each.`,
  'clients remove': `clients remove CLIENT_ID
      Remove a client and every token issued to it.`,
  'clients rotate-secret': `clients rotate-secret CLIENT_ID
      Give the client a new client_secret, printed once; the old one stops working.`,
  'clients initial-access-token': `clients initial-access-token [--expires-in SECONDS]
      Print {"initial_access_token", "expires_at"}: one dynamic client registration
      (RFC 7591) at /reg. Default lifetime INITIAL_ACCESS_TOKEN_TTL_SECONDS.`,
  'clients revoke-initial-access-token': `clients revoke-initial-access-token TOKEN
      Revoke an unused initial access token (registration with it then gets 401).`,
  'clients first-party': `clients first-party CLIENT_ID [--off]
      Mark a client first-party (no consent page), or third-party again with --off.`,
  'resources add': `resources add --identifier URI --scope "a b" [--access-token-ttl SECONDS]
      Register an API (RFC 8707 resource): clients asking for it get JWT access tokens
      (RFC 9068) with aud = URI. Running servers use it at once. Never the openid scope.`,
  'resources list': `resources list
      Print the registered resources as a JSON array.`,
  'resources remove': `resources remove URI
      Remove a resource (tokens already issued stay valid until they expire).`,
  'keys list': `keys list
      Print the signing keys as JSON: kid, alg, use, created_at, state (current, previous,
      retired). Never key material.`,
  'keys rotate': `keys rotate [--alg ES256|RS256]
      New current signing key (for every algorithm without --alg); the old one stays published
      until what it signed has expired (a day and an hour), then is retired. Running servers
      switch within 30 seconds.`,
  'terms publish': `terms publish FILE --version VERSION
      Publish the text in FILE as a new Terms of Use version and make it the active one;
      producers accept it again at their next sign-in.`,
  'delegates list': `delegates list USERNAME
      Print the account's kind and its delegations as JSON: "delegates", the people a
      producer invited (invited, active, removed), and "works_for", the producers whose
      delegate the person is or was. To end a delegate's access at once, the producer removes
      them (View/Add My Delegates), or \`accounts disable\` the delegate's account.`,
  'devices list': `devices list USERNAME
      Print the account's remembered devices ("Remember this device for 30 days") as a
      JSON array, newest first, revoked and expired ones included (no secrets).`,
  'devices revoke': `devices revoke USERNAME (--all | DEVICE_ID)
      Revoke one remembered device of the account, or all of them; that browser is asked
      for its second factor again at the next sign-in. Prints "revoked N device(s)".`,
  'keystroke reset': `keystroke reset USERNAME
      Remove the account's typing pattern ("contact Service Desk" in the guide); the next
      sign-in asks the producer to type the sentence again.`,
  'accounts show': `accounts show USERNAME
      Print the account for the Service Desk as JSON: status, lock, email confirmation,
      factors, remembered devices, typing pattern, last sign-ins (no secrets).`,
  'accounts unlock': `accounts unlock USERNAME --operator NAME
      Lift the account's lock and clear its failed attempts.`,
  'accounts disable': `accounts disable USERNAME --reason TEXT --operator NAME
      Disable the account: no sign-in, and every session, grant and token ends at once.`,
  'accounts enable': `accounts enable USERNAME --operator NAME
      Enable a disabled account again.`,
  'accounts sessions': `accounts sessions USERNAME
      Print the account's IdP sessions and refresh tokens as JSON (no token values).`,
  'accounts sign-out': `accounts sign-out USERNAME --operator NAME
      End every IdP session, grant and token of the account (it stays usable).`,
  'audit list': `audit list [--username U] [--since ISO] [--type T] [--limit N] [--format json|table]
      Print audit events, newest first (default 100); --type login. matches a family.
      Changes made with the accounts commands name their --operator.`,
  help: `help
      Show this text.`,
};

/** The usage text printed by `help`, with no arguments, and (on stderr) for an unknown command. */
export const USAGE = `Usage: npm run cli -- <command> [options]
       (or: node src/cli/main.ts <command> [options])

Commands:
${Object.values(COMMAND_USAGE).map((text) => `  ${text}`).join('\n')}

Configuration comes from the environment, exactly as for \`npm start\` (DATABASE_URL,
DATABASE_SCHEMA, DATA_DIR, ...). LOG_LEVEL defaults to silent.
Without DATABASE_URL the embedded database in DATA_DIR is used: stop \`npm start\` first.

Exit codes: 0 success; 1 failure (nothing written); 2 usage error;
            78 invalid configuration or embedded database in use.`;

/**
 * The usage of one command (`--help` after it, or on stderr after a usage error), with a pointer
 * to `help`; the full {@link USAGE} for a name that is not a command.
 */
export function commandUsage(command: string): string {
  const text = COMMAND_USAGE[command];
  if (text === undefined) return USAGE;
  return `Usage: npm run cli -- ${text}\n\nRun \`npm run cli -- help\` for every command, the configuration and the exit codes.`;
}
