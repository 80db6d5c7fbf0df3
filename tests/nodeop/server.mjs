// node-oidc-provider (OpenID Certified) as the test suite's certified provider.
//
//   node server.mjs CONFIG.json
//
// CONFIG.json (written by tests/nodeop/harness.py) names the port, the issuer (it may end in "/"),
// the clients and the profile; everything else is node-oidc-provider's own behaviour. Signing keys
// are made at start-up and never leave the process; the sign-in pages are the library's development
// interactions (any login, any password), which the test browser fills in.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));

async function signingKey(alg, options = {}) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...options });
  return { ...(await exportJWK(privateKey)), alg, use: 'sig', kid: `${alg.toLowerCase()}-${randomBytes(4).toString('hex')}` };
}

// A person signs in with any login; an e-mail address becomes the subject's e-mail, and the part
// before "@" picks the roles ("admin@..." is an admin), like the development IdP's demo users.
function account(sub) {
  const local = sub.split('@')[0];
  const email = sub.includes('@') ? sub : `${sub}@example.com`;
  const roles = config.roles?.[local] ?? ['customer'];
  return {
    accountId: sub,
    async claims() {
      return {
        sub, email, email_verified: true, name: local, given_name: local, roles,
      };
    },
  };
}

const resourceServers = config.resourceServers || {};

const configuration = {
  clients: config.clients,
  jwks: {
    keys: await Promise.all((config.signingAlgorithms || ['RS256', 'PS256', 'ES256']).map((alg) => signingKey(alg))),
  },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  findAccount: async (ctx, sub) => account(sub),
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'roles'],
  },
  conformIdTokenClaims: config.conformIdTokenClaims ?? true,
  // Refresh tokens for every client allowed the grant. The library otherwise drops offline_access
  // unless the request says prompt=consent (OIDC Core §11), which the BFF does not send.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  ttl: {
    AccessToken: config.accessTokenTTL ?? 300,
    IdToken: 300,
    RefreshToken: 3600,
    Session: 3600,
    Grant: 3600,
    Interaction: 600,
    AuthorizationCode: 60,
    ...(config.ttl || {}),
  },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    userinfo: { enabled: true },
    pushedAuthorizationRequests: {
      enabled: true,
      requirePushedAuthorizationRequests: Boolean(config.requirePAR),
    },
    dPoP: {
      enabled: true,
      nonceSecret: randomBytes(32),
      // With dpopNonce, every DPoP proof must carry a nonce this provider issued (RFC 9449 §8).
      requireNonce: () => Boolean(config.dpopNonce),
    },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: Object.keys(resourceServers).length > 0,
      defaultResource: () => undefined,
      // A token is for a resource only when the token request names it (RFC 8707 §2.2): the
      // authorization request may name several (the grant covers them), and the code exchange
      // without one gets the token for userinfo, as a client that names none expects.
      useGrantedResource: () => false,
      getResourceServerInfo: (ctx, resource) => {
        const info = resourceServers[resource];
        if (!info) throw new errors.InvalidTarget();
        return info;
      },
    },
    ...(config.fapi ? { fapi: { enabled: true, profile: '2.0' } } : {}),
  },
  pkce: { required: () => true },
  enabledJWA: {
    idTokenSigningAlgValues: config.signingAlgorithms || ['RS256', 'PS256', 'ES256'],
  },
};

const provider = new Provider(config.issuer, configuration);
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.on('backchannel.error', (ctx, err) => console.error('backchannel.error', err.message));
provider.on('backchannel.success', (ctx, client) => console.log('backchannel.success', client.clientId));

provider.listen(config.port, '127.0.0.1', () => {
  console.log(`node-oidc-provider ${config.issuer} listening on 127.0.0.1:${config.port}`);
});
