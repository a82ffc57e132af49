import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Where Debian's apache2 and libapache2-mod-auth-openidc put things (installed by .ci/run). */
export const APACHE_BINARY = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';

/** A running Apache httpd with mod_auth_openidc protecting /protected/. */
export interface ApacheRp {
  url: string;
  /** mod_auth_openidc's redirect URI (also its info, refresh, logout and back-channel logout hooks). */
  redirectUri: string;
  /** Where the IdP sends the browser after logout. */
  postLogoutUri: string;
  /** Back-channel logout URI to register (mod_auth_openidc: `redirect_uri?logout=backchannel`). */
  backchannelLogoutUri: string;
  errorLog(): string;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The mod_auth_openidc configuration the README documents, for one client. `responseMode`:
 * `form_post` (recommended: see the README on error responses) or `query`.
 */
export function modAuthOpenidcConfig(o: { issuer: string; clientId: string; clientSecret: string; redirectUri: string; responseMode: 'form_post' | 'query'; passphrase: string }): string {
  return `OIDCProviderMetadataURL ${o.issuer}/.well-known/openid-configuration
OIDCClientID ${o.clientId}
OIDCClientSecret ${o.clientSecret}
OIDCRedirectURI ${o.redirectUri}
OIDCCryptoPassphrase ${o.passphrase}
OIDCScope "openid profile email producer"
OIDCResponseType code
OIDCResponseMode ${o.responseMode}
OIDCPKCEMethod S256
OIDCProviderTokenEndpointAuth client_secret_basic
OIDCIDTokenSignedResponseAlg ES256
# A first sign-in (registration, email confirmation, second factor) can take longer than 300 s.
OIDCStateTimeout 3600
OIDCSessionInactivityTimeout 28800
OIDCInfoHook iat access_token access_token_expires id_token userinfo refresh_token session
OIDCRemoteUserClaim sub
`;
}

/**
 * Starts `apache2 -X` (one foreground process) on a free port with its own configuration in a
 * temporary folder: mod_auth_openidc protects `/protected/` (an index page) for `clientId`.
 * As root, it runs as `www-data`.
 * @throws Error with the error log when Apache does not answer within 15 s.
 */
export async function startApache(o: { issuer: string; clientId: string; clientSecret: string; responseMode: 'form_post' | 'query'; port?: number }): Promise<ApacheRp> {
  const dir = mkdtempSync(path.join(tmpdir(), 'producer-idp-apache-'));
  chmodSync(dir, 0o755);
  const port = o.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const redirectUri = `${url}/protected/redirect_uri`;
  mkdirSync(path.join(dir, 'htdocs/protected'), { recursive: true });
  writeFileSync(path.join(dir, 'htdocs/protected/index.html'), '<!doctype html><title>Apache RP</title><h1>Signed in at Apache</h1>\n');
  writeFileSync(path.join(dir, 'htdocs/loggedout.html'), '<!doctype html><title>Logged out</title><h1>Logged out of Apache</h1>\n');
  const root = process.getuid?.() === 0;
  const conf = `ServerRoot ${dir}
ServerName 127.0.0.1
Listen 127.0.0.1:${port}
PidFile ${dir}/httpd.pid
DefaultRuntimeDir ${dir}
Mutex file:${dir} default
ErrorLog ${dir}/error.log
# One process (-X) serves one connection at a time: no keep-alive, so a logout token is never
# kept waiting behind a browser's idle connection.
KeepAlive Off
LogLevel warn auth_openidc:info
LoadModule mpm_prefork_module ${MODULES}/mod_mpm_prefork.so
LoadModule authn_core_module ${MODULES}/mod_authn_core.so
LoadModule authz_core_module ${MODULES}/mod_authz_core.so
LoadModule authz_user_module ${MODULES}/mod_authz_user.so
LoadModule dir_module ${MODULES}/mod_dir.so
LoadModule auth_openidc_module ${MODULES}/mod_auth_openidc.so
${root ? 'User www-data\nGroup www-data' : ''}
DocumentRoot ${dir}/htdocs
DirectoryIndex index.html
<Directory ${dir}/htdocs>
  Require all granted
</Directory>

${modAuthOpenidcConfig({ ...o, redirectUri, passphrase: randomBytes(24).toString('hex') })}
<Location /protected/>
  AuthType openid-connect
  Require valid-user
</Location>
`;
  const confFile = path.join(dir, 'httpd.conf');
  writeFileSync(confFile, conf);
  const child: ChildProcess = spawn(APACHE_BINARY, ['-X', '-f', confFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', LANG: 'C' } });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const errorLog = () => {
    try {
      return readFileSync(path.join(dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) break;
    try {
      await fetch(`${url}/loggedout.html`);
      return { url, redirectUri, postLogoutUri: `${url}/loggedout.html`, backchannelLogoutUri: `${redirectUri}?logout=backchannel`, errorLog, stop };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const log = errorLog();
  await stop();
  throw new Error(`apache2 did not start: ${output}\n${log}`);
}
