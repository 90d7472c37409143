// The OpenID provider the SSO tests run on loopback (tests/oidc_provider.py): the certified
// `oidc-provider` package, configured by the test with its keys, clients and accounts.
//
//   node provider.mjs CONFIG.json
//
// CONFIG: {"port": 0 or a port, "keys": {"keys": [private JWKs]} (the first signs),
//          "clients": [oidc-provider client metadata], "accounts": {"<sub>": {claims}},
//          "clientAuthMethods": [optional: what the token endpoint takes]}
// Prints one line of JSON, {"issuer": "http://127.0.0.1:<port>"}, once it listens.
//
// Login is a plain HTML form (devInteractions off): GET /interaction/<uid> shows it, POST
// /interaction/<uid>/login with `login=<sub>` signs that account in; consent is given at once
// (hotdesk is the organisation's own client). POST /test/tamper {"mode": ...} makes the token
// endpoint's next answers carry a forged ID token, as a hostile or broken provider would:
// "wrong_audience" and "expired" (signed with the provider's own key), "foreign_key" (the
// provider's kid, another key's signature), "unknown_kid" (a key it does not publish), or "none".
import { readFileSync } from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
let tamper = 'none';

function readBody(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

async function forged(idToken) {
  const claims = jose.decodeJwt(idToken);
  const header = jose.decodeProtectedHeader(idToken);
  const signer = config.keys.keys[0];
  let key = await jose.importJWK(signer, header.alg);
  const now = Math.floor(Date.now() / 1000);
  if (tamper === 'wrong_audience') {
    claims.aud = 'another-client';
    delete claims.azp;
  } else if (tamper === 'expired') {
    claims.iat = now - 7200;
    claims.exp = now - 3600;
  } else if (tamper === 'foreign_key' || tamper === 'unknown_kid') {
    key = (await jose.generateKeyPair(header.alg)).privateKey;
    if (tamper === 'unknown_kid') header.kid = 'not-published';
  }
  return new jose.SignJWT(claims).setProtectedHeader(header).sign(key);
}

const server = http.createServer();
server.listen(config.port || 0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: config.clients,
    jwks: config.keys,
    cookies: { keys: ['hotdesk-test-provider-cookies'] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username', 'upn'],
    },
    features: { devInteractions: { enabled: false } },
    ...(config.clientAuthMethods ? { clientAuthMethods: config.clientAuthMethods } : {}),
    pkce: { required: () => true },
    findAccount: async (ctx, sub) => {
      const claims = config.accounts[sub];
      if (!claims) return undefined;
      return { accountId: sub, claims: async () => ({ sub, ...claims }) };
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  });
  const basicRefused = config.clientAuthMethods && !config.clientAuthMethods.includes('client_secret_basic');
  provider.use(async (ctx, next) => {
    if (basicRefused && ctx.path === '/token' && ctx.headers.authorization) {
      // oidc-provider takes Basic for a client_secret_post client anyway; a stricter provider does not
      ctx.status = 401;
      ctx.body = { error: 'invalid_client', error_description: 'client_secret_post only' };
      return;
    }
    await next();
    if (tamper !== 'none' && ctx.path === '/token' && ctx.body && ctx.body.id_token) {
      ctx.body = { ...ctx.body, id_token: await forged(ctx.body.id_token) };
    }
  });
  const callback = provider.callback();

  server.on('request', async (req, res) => {
    try {
      const url = new URL(req.url, issuer);
      if (req.method === 'POST' && url.pathname === '/test/tamper') {
        tamper = JSON.parse(await readBody(req)).mode;
        res.writeHead(204).end();
        return;
      }
      const interaction = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
      if (!interaction) {
        callback(req, res);
        return;
      }
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name === 'login') {
        if (req.method !== 'POST' || !interaction[2]) {
          res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
          res.end(`<!doctype html><title>Sign in</title><form method="post" action="/interaction/${escapeHtml(details.uid)}/login">
<label>Login <input name="login"></label><button>Sign in</button></form>`);
          return;
        }
        const login = new URLSearchParams(await readBody(req)).get('login');
        if (!config.accounts[login]) {
          res.writeHead(401, { 'Content-Type': 'text/plain' }).end('no such account\n');
          return;
        }
        await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
        return;
      }
      // consent: granted at once, for what the client asked
      const { prompt, params, session } = details;
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
      if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
      if (prompt.details.missingResourceScopes) {
        for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes)) {
          grant.addResourceScope(indicator, scopes.join(' '));
        }
      }
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    } catch (error) {
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${error.name}: ${error.message}\n`);
    }
  });
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});
