// A real OpenID Provider (panva/oidc-provider, a certified implementation) for
// ssokit's interop test. Development use only: it listens on 127.0.0.1, accepts
// any login name with any password, and grants consent automatically.
//
//   OP_PORT   (default 4000)                   port to listen on; issuer is http://127.0.0.1:$OP_PORT
//   DEMO_URL  (default http://127.0.0.1:3000)  base URL of the app under test (redirect URI origin)
//
// Accounts are derived from the login name: "alice" -> alice@acme.test, "Alice",
// groups ["staff"]. A login that contains '@' is used as the e-mail address as is.

import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number(process.env.OP_PORT || 4000);
const host = '127.0.0.1';
const issuer = `http://${host}:${port}`;
const demoUrl = (process.env.DEMO_URL || 'http://127.0.0.1:3000').replace(/\/+$/, '');
const defaultDomain = 'acme.test';

// Fresh signing key per run: the relying party must fetch the JWKS, nothing is baked in.
const signingKey = {
  ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  kid: `op-${randomBytes(4).toString('hex')}`,
  alg: 'RS256',
  use: 'sig',
};

function accountFor(login) {
  const local = login.includes('@') ? login.slice(0, login.indexOf('@')) : login;
  const email = login.includes('@') ? login : `${login}@${defaultDomain}`;
  const name = local ? local[0].toUpperCase() + local.slice(1) : login;
  return {
    accountId: login,
    async claims() {
      return {
        sub: login,
        email,
        email_verified: true,
        name,
        groups: ['staff'],
      };
    },
  };
}

const configuration = {
  clients: [
    {
      client_id: 'demo',
      client_secret: 'demo-secret',
      redirect_uris: [`${demoUrl}/sso/oidc/callback`],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  // Put the scope's claims in the ID token too, not only at /userinfo.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
  },
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  async findAccount(_ctx, id) {
    return accountFor(String(id));
  },
  // Auto-consent: the interaction is only the login page, so a flow is
  // /auth -> /interaction/{uid} (login) -> /auth/{uid} -> redirect_uri.
  async loadExistingGrant(ctx) {
    const { oidc } = ctx;
    const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
    if (grantId) {
      const existing = await oidc.provider.Grant.find(grantId);
      if (existing) return existing;
    }
    const grant = new oidc.provider.Grant({
      clientId: oidc.client.clientId,
      accountId: oidc.session.accountId,
    });
    grant.addOIDCScope([...oidc.requestParamScopes].join(' '));
    grant.addOIDCClaims([...oidc.requestParamClaims]);
    await grant.save();
    return grant;
  },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (_ctx, err) => console.error('op: server_error', err));
provider.on('authorization.error', (_ctx, err) => console.error(`op: authorization.error ${err.error}: ${err.error_description ?? ''}`));
provider.on('grant.error', (_ctx, err) => console.error(`op: grant.error ${err.error}: ${err.error_description ?? ''}`));
provider.on('grant.success', (ctx) => console.log(`op: token issued to ${ctx.oidc.client?.clientId}`));

const server = provider.listen(port, host, () => {
  console.log(`oidc-provider ready: issuer ${issuer}, client demo -> ${demoUrl}/sso/oidc/callback`);
});
server.on('error', (err) => {
  console.error(`op: cannot listen on ${host}:${port}: ${err.message}`);
  process.exit(1);
});

function shutdown(signal) {
  console.log(`op: ${signal}, shutting down`);
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
