// A real OpenID provider (oidc-provider) on 127.0.0.1 for the single sign-on tests: one
// confidential client, the portal, with PKCE required, and the provider's development login and
// consent pages. Chromium fills them in (test/browser/oidc.test.ts); `signInAtProvider` does it
// over plain HTTP where a browser would only make a test slower (test/oidc.test.ts).
import { generateKeyPairSync } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export const CLIENT_ID = 'simplevm-portal';
export const CLIENT_SECRET = 'a-client-secret-for-tests-only-0123456789';

export interface TestProvider {
  issuer: string;
  server: Server;
  /** The authorization requests it received, in order. */
  authRequests: URL[];
  /** Set it to make the token endpoint drop connections, as a provider that has gone down. */
  tokenEndpointDown: boolean;
  close: () => Promise<void>;
}

/**
 * A provider for the portal at `portalBase`. `accounts` holds the claims per account id (= `sub`);
 * tests may change them between logins. `name` is shown on its sign-out page.
 */
export async function startProvider(portalBase: string, accounts: Map<string, Record<string, unknown>>, name: string): Promise<TestProvider> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: [`${portalBase}/api/auth/oidc/callback`],
      post_logout_redirect_uris: [`${portalBase}/login`],
      response_types: ['code'],
      grant_types: ['authorization_code'],
    }],
    // The provider refuses an authorization request without PKCE, so a login proves the portal sends it.
    pkce: { methods: ['S256'], required: () => true },
    scopes: ['openid', 'profile', 'email', 'groups'],
    claims: { openid: ['sub'], profile: ['preferred_username', 'name'], email: ['email', 'email_verified'], groups: ['groups'] },
    findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id, ...(accounts.get(id) ?? {}) }) }),
    jwks: { keys: [{ ...(jwk as object), kid: 'test-key', use: 'sig', alg: 'RS256' } as never] },
    cookies: { keys: ['cookie-key-for-tests-only'] },
    ttl: { AccessToken: 600, AuthorizationCode: 60, Grant: 600, IdToken: 600, Interaction: 600, Session: 600 },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.body = `<!doctype html><title>Sign out</title><h1>Sign out of ${name}?</h1>${form}<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>`;
        },
      },
    },
  });
  const handle = provider.callback();
  const state: TestProvider = {
    issuer,
    server,
    authRequests: [],
    tokenEndpointDown: false,
    close: async () => {
      if (!server.listening) return;
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  server.on('request', (req, res) => {
    if (req.url?.startsWith('/auth?')) state.authRequests.push(new URL(req.url, issuer));
    // A provider that has gone down: the connection drops without an answer.
    if (state.tokenEndpointDown && req.url?.startsWith('/token')) return req.socket.destroy();
    handle(req, res);
  });
  return state;
}

/**
 * Signs in at the provider as `account`, from the portal's redirect to it (`authorizationUrl`)
 * to the provider's redirect back: fills in the login and consent pages as a browser would,
 * with a cookie jar of its own, and answers the URL the provider sends the browser to.
 */
export async function signInAtProvider(provider: TestProvider, authorizationUrl: string, account: string): Promise<URL> {
  const jar = new Map<string, string>();
  let url = new URL(authorizationUrl);
  for (let step = 0; step < 12; step++) {
    if (url.origin !== provider.issuer) return url;
    let res = await fetch(url, { redirect: 'manual', headers: { cookie: cookieHeader(jar) } });
    keepCookies(jar, res);
    if (res.status === 200 && url.pathname.startsWith('/interaction/')) {
      const page = await res.text();
      const prompt = /name="prompt" value="(login|consent)"/.exec(page)?.[1];
      if (!prompt) throw new Error(`the provider's page at ${url.pathname} has no login or consent form`);
      const form = new URLSearchParams(prompt === 'login' ? { prompt, login: account, password: 'any password' } : { prompt });
      res = await fetch(url, { method: 'POST', redirect: 'manual', body: form, headers: { cookie: cookieHeader(jar) } });
      keepCookies(jar, res);
    }
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !location) throw new Error(`the provider answered ${res.status} at ${url.pathname}: ${(await res.text()).slice(0, 200)}`);
    url = new URL(location, url);
  }
  throw new Error('the provider kept redirecting');
}

// One jar for the provider's origin: its cookies' paths (/interaction/<uid>, /auth/<uid>) matter
// only to a browser that holds several logins at once.
function keepCookies(jar: Map<string, string>, res: Response): void {
  for (const line of res.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const at = pair.indexOf('=');
    const name = pair.slice(0, at).trim();
    const value = pair.slice(at + 1).trim();
    if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) jar.delete(name);
    else jar.set(name, value);
  }
}

const cookieHeader = (jar: Map<string, string>) => [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
