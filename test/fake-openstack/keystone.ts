// Keystone v3: POST /v3/auth/tokens by application credential or by password, scoped to the one
// project; the token in X-Subject-Token, the catalog pointing at the fake itself.
import { sample } from './samples.js';
import { APP_CREDENTIAL, type Ctx, type FakeOpenStack, PROJECT, type Reply, USER, keystoneError, keystoneTime } from './server.js';

const refused = () => keystoneError(401, 'The request you have made requires authentication.');

const domainMatches = (d: any) => d && typeof d === 'object' && (d.id === USER.domain.id || d.name === USER.domain.name);

export function handleKeystone(fake: FakeOpenStack, ctx: Ctx): Reply {
  if (ctx.path !== '/v3/auth/tokens') return keystoneError(404, 'Could not find the requested resource.');
  if (ctx.method !== 'POST') return keystoneError(405, 'The method is not allowed for the requested URL.');
  const auth = (ctx.body as any)?.auth;
  const methods = auth?.identity?.methods;
  if (!Array.isArray(methods) || methods.length !== 1) return keystoneError(400, "Invalid input for field 'identity': 'methods' is a required property");

  if (methods[0] === 'application_credential') {
    const cred = auth.identity.application_credential;
    if (!cred || typeof cred.secret !== 'string') return keystoneError(400, "Invalid input for field 'application_credential': 'secret' is a required property");
    const known = (cred.id === APP_CREDENTIAL.id || (cred.name === APP_CREDENTIAL.name && cred.user?.id === USER.id)) && cred.secret === APP_CREDENTIAL.secret;
    if (!known) return refused();
    if (auth.scope) return keystoneError(401, 'Application credentials cannot request a scope.');
    const token = fake.issueToken(USER.id, PROJECT.id, 'application_credential');
    const body = sample('keystone/auth-application-credential-response.json');
    body.token.application_credential = { id: APP_CREDENTIAL.id, name: APP_CREDENTIAL.name, restricted: true };
    return tokenReply(fake, body, token);
  }

  if (methods[0] === 'password') {
    const user = auth.identity.password?.user;
    if (!user || typeof user.password !== 'string') return keystoneError(400, "Invalid input for field 'password': 'user' is a required property");
    const who = user.id === USER.id || (user.name === USER.name && domainMatches(user.domain));
    if (!who || user.password !== USER.password) return refused();
    const project = auth.scope?.project;
    if (!project) return keystoneError(400, 'The portal fake issues project-scoped tokens only.');
    const scoped = project.id === PROJECT.id || (project.name === PROJECT.name && domainMatches(project.domain));
    if (!scoped) return refused();
    const token = fake.issueToken(USER.id, PROJECT.id, 'password');
    return tokenReply(fake, sample('keystone/project-scoped-password.json'), token);
  }
  return keystoneError(401, `Attempted to authenticate with an unsupported method.`);
}

function tokenReply(fake: FakeOpenStack, body: any, token: ReturnType<FakeOpenStack['issueToken']>): Reply {
  body.token.methods = [token.method];
  body.token.issued_at = keystoneTime(token.issuedAt);
  body.token.expires_at = keystoneTime(token.expiresAt);
  body.token.project = { domain: PROJECT.domain, id: PROJECT.id, name: PROJECT.name };
  body.token.user = { domain: USER.domain, id: USER.id, name: USER.name, password_expires_at: null };
  body.token.catalog = fake.catalog();
  return { status: 201, body, headers: { 'X-Subject-Token': token.value, Vary: 'X-Auth-Token' } };
}
