// A real OpenID Connect provider for the tests and for trying single sign-on by hand.
//
// It is the npm package `oidc-provider` (an OpenID-certified server; a devDependency, installed
// by `npm ci`), configured with one confidential client (segadmin), a few people in groups,
// a `groups` claim in the ID token and at the userinfo endpoint, and small log-in and consent
// pages of its own. It reaches nothing outside the machine.
//
//   node tests/oidc/provider.mjs [--port 9000] [--host 127.0.0.1]
//        [--client-id segadmin] [--client-secret SECRET] [--redirect-uri URI ...]
//        [--post-logout-redirect-uri URI ...] [--users FILE] [--groups-claim groups]
//        [--wrong-nonce]
//
// --port 0 picks a free port. Once it listens it prints one line, "issuer: http://HOST:PORT",
// then the people it knows (the test fixture waits for that line).
// --redirect-uri: the client's redirect URIs; without one, any http(s) address on this machine
//   (127.0.0.1, localhost, ::1; any port, any path) is accepted, so a test server on a random port works.
// --post-logout-redirect-uri: where the client may send people back after signing them out
//   here (RP-initiated logout, at the end_session_endpoint of the discovery document); without
//   one, any such address on this machine, as for --redirect-uri. The sign-out asks "Sign out?"
//   on a small page of its own (Yes / No), as oidc-provider does without an id_token_hint.
// --users FILE: a JSON file {"users": [{"username", "password", "groups", "email", "name",
//   "sub"}...], "wrong_nonce": false}, read again at every log-in and token, so a test can move
//   a person to another group, or make the ID tokens carry a wrong nonce, while it runs.
//   Without it, the built-in people below are used.
// --wrong-nonce: every ID token carries a nonce other than the one asked for (to test that the
//   client refuses it).

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

import * as jose from 'jose';
import Provider from 'oidc-provider';

const { values: options } = parseArgs({
  options: {
    port: { type: 'string', default: '9000' },
    host: { type: 'string', default: '127.0.0.1' },
    'client-id': { type: 'string', default: 'segadmin' },
    'client-secret': { type: 'string', default: 'segadmin-local-test-secret' },
    'redirect-uri': { type: 'string', multiple: true, default: [] },
    'post-logout-redirect-uri': { type: 'string', multiple: true, default: [] },
    users: { type: 'string', default: '' },
    'groups-claim': { type: 'string', default: 'groups' },
    'wrong-nonce': { type: 'boolean', default: false },
  },
});

const PASSWORD = 'sso-test-password';
const BUILT_IN_PEOPLE = {
  users: [
    { username: 'mallory.marketing', name: 'Mallory Marketing', groups: ['marketing'] },
    { username: 'sam.support', name: 'Sam Support', groups: ['support', 'everyone'] },
    { username: 'alice.admin', name: 'Alice Admin', groups: ['admins', 'marketing'] },
    { username: 'oscar.outsider', name: 'Oscar Outsider', groups: ['finance'] },
  ],
  wrong_nonce: false,
};

function people() {
  const data = options.users ? JSON.parse(readFileSync(options.users, 'utf8')) : BUILT_IN_PEOPLE;
  const users = (data.users || []).map((user) => ({
    sub: user.sub || `sub-${user.username}`,
    password: user.password || PASSWORD,
    email: user.email || `${user.username}@example.com`,
    name: user.name || user.username,
    groups: user.groups || [],
    ...user,
  }));
  return { users, wrongNonce: Boolean(data.wrong_nonce) || options['wrong-nonce'] };
}

const byUsername = (username) => people().users.find((u) => u.username === username);
const bySub = (sub) => people().users.find((u) => u.sub === sub);

const host = options.host;
const listenPort = Number.parseInt(options.port, 10);
const loopbackHosts = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

const server = http.createServer();
await new Promise((resolve) => { server.listen(listenPort, host, resolve); });
const { port } = server.address();
const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

const signingKey = await jose.generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await jose.exportJWK(signingKey.privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
const groupsClaim = options['groups-claim'];

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: options['client-id'],
      client_secret: options['client-secret'],
      redirect_uris: options['redirect-uri'].length
        ? options['redirect-uri']
        : ['http://127.0.0.1/accounts/oidc/sso/login/callback/'],
      post_logout_redirect_uris: options['post-logout-redirect-uri'].length
        ? options['post-logout-redirect-uri']
        : ['http://127.0.0.1/accounts/login/'],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  scopes: ['openid', 'profile', 'email', 'groups'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    groups: [groupsClaim],
  },
  // The claims of the asked scopes go into the ID token too (as Okta and Keycloak can).
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    // RP-initiated logout (on by default): its pages are ours, as the defaults load web fonts.
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.type = 'html';
        ctx.body = page('Sign out', `<h1>Test identity provider: sign out</h1>
<p>Sign out of the test identity provider in this browser?</p>
${form}
<p><button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button></p>`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.type = 'html';
        ctx.body = page('Signed out', '<h1>Test identity provider: signed out</h1>');
      },
    },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const user = bySub(sub);
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        const fresh = bySub(sub) || user; // read again: a test may have moved the person
        return {
          sub,
          name: fresh.name,
          preferred_username: fresh.username,
          email: fresh.email,
          email_verified: true,
          [groupsClaim]: fresh.groups,
        };
      },
    };
  },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', `<h1>Error</h1><p>${escape(out.error)}: ${escape(out.error_description || '')}</p>`);
  },
});

if (!options['redirect-uri'].length) {
  // Any address on this machine: the test server listens on a port chosen at random.
  provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(value) {
    return loopbackAddress(value);
  };
}

if (!options['post-logout-redirect-uri'].length) {
  provider.Client.prototype.postLogoutRedirectUriAllowed = function postLogoutRedirectUriAllowed(value) {
    return loopbackAddress(value);
  };
}

function loopbackAddress(value) {
  try {
    const url = new URL(value);
    return ['http:', 'https:'].includes(url.protocol) && loopbackHosts.has(url.hostname) && !url.hash;
  } catch {
    return false;
  }
}

// A wrong nonce in every ID token, when asked: the client must refuse the log-in.
const setClaim = provider.IdToken.prototype.set;
provider.IdToken.prototype.set = function set(key, value) {
  if (key === 'nonce' && people().wrongNonce) {
    return setClaim.call(this, key, `not-${value}`);
  }
  return setClaim.call(this, key, value);
};

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>${escape(title)} - test identity provider</title></head>
<body><main>${body}</main></body></html>`;
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res, status, html) {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Security-Policy': "default-src 'none'; form-action 'self' http://127.0.0.1:* http://localhost:*",
  });
  res.end(html);
}

function loginPage(uid, client, message = '', username = '') {
  return page('Sign in', `<h1>Test identity provider: sign in</h1>
<p>Signing in to <strong>${escape(client)}</strong>.</p>
${message ? `<p role="alert">${escape(message)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login" autocomplete="off">
<p><label for="username">Username</label> <input id="username" name="username" value="${escape(username)}" required autofocus></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password" required></p>
<p><button type="submit">Sign in</button></p>
</form>
<form method="post" action="/interaction/${escape(uid)}/abort"><button type="submit">Cancel</button></form>`);
}

function consentPage(uid, client, scopes) {
  return page('Allow', `<h1>Test identity provider: allow access</h1>
<p><strong>${escape(client)}</strong> asks for: ${escape(scopes.join(', '))}.</p>
<form method="post" action="/interaction/${escape(uid)}/confirm"><button type="submit">Allow</button></form>
<form method="post" action="/interaction/${escape(uid)}/abort"><button type="submit">Deny</button></form>`);
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    send(res, 400, page('Error', '<h1>This sign-in is not the one in progress.</h1>'));
    return;
  }
  const { prompt, params, session } = details;
  if (req.method === 'GET' && !action) {
    if (prompt.name === 'login') {
      send(res, 200, loginPage(uid, params.client_id));
    } else {
      const scopes = [...(prompt.details.missingOIDCScope || [])];
      send(res, 200, consentPage(uid, params.client_id, scopes));
    }
    return;
  }
  if (req.method !== 'POST') {
    send(res, 405, page('Error', '<h1>Method not allowed</h1>'));
    return;
  }
  if (action === 'abort') {
    await provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'The person cancelled the sign-in.',
    }, { mergeWithLastSubmission: false });
    return;
  }
  if (action === 'login' && prompt.name === 'login') {
    const form = await readForm(req);
    const user = byUsername(form.get('username') || '');
    if (!user || user.password !== form.get('password')) {
      send(res, 200, loginPage(uid, params.client_id, 'Wrong username or password.', form.get('username') || ''));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: user.sub } }, {
      mergeWithLastSubmission: false,
    });
    return;
  }
  if (action === 'confirm' && prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, {
      mergeWithLastSubmission: true,
    });
    return;
  }
  send(res, 400, page('Error', '<h1>That step is not the one in progress.</h1>'));
}

const handle = provider.callback();
server.on('request', async (req, res) => {
  if (new URL(req.url, issuer).pathname === '/favicon.ico') {
    res.writeHead(204, { 'Cache-Control': 'max-age=3600' }); // none: no 404 in the console
    res.end();
    return;
  }
  const match = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|confirm|abort))?$/.exec(
    new URL(req.url, issuer).pathname,
  );
  if (!match) {
    handle(req, res);
    return;
  }
  try {
    await interaction(req, res, match[1], match[2]);
  } catch (error) {
    send(res, 400, page('Error', `<h1>Sign-in failed</h1><p>${escape(error.message)}</p>`));
  }
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('SIGINT', () => server.close(() => process.exit(0)));

console.log(`issuer: ${issuer}`);
console.log(`client: ${options['client-id']} (secret given by --client-secret, or the default one)`);
for (const user of people().users) {
  console.log(`person: ${user.username} in groups ${user.groups.join(', ') || '(none)'}`);
}
if (!options.users) console.log(`password of each: ${PASSWORD}`);
