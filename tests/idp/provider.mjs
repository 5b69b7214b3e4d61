// A real OpenID Connect provider for the sign-in tests: npm's certified `oidc-provider`,
// with a campus-style login page that checks passwords, and consent granted for the hub
// (a first-party client, as Keycloak or Azure AD do for an institution's own apps).
//
//   node provider.mjs CONFIG.json
//
// CONFIG: {"port": 5xxx, "clients": [{client_id, client_secret, redirect_uris}],
//          "accounts": {"ann": {"password": "...", "name": "Ann", "groups": ["cs-dl101"]}}}
// Listens on 127.0.0.1 only; the issuer is http://127.0.0.1:PORT.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";

import { Provider } from "oidc-provider";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const issuer = `http://127.0.0.1:${config.port}`;
const accounts = config.accounts;

const provider = new Provider(issuer, {
  clients: config.clients,
  scopes: ["openid", "profile", "email", "groups"],
  claims: {
    openid: ["sub"],
    profile: ["name", "preferred_username"],
    email: ["email"],
    groups: ["groups"],
  },
  cookies: { keys: [randomBytes(32).toString("hex")] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          preferred_username: id,
          name: account.name || id,
          email: `${id}@campus.example`,
          groups: account.groups || [],
        };
      },
    };
  },
});

const escape = (text) =>
  String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid, message) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Campus sign-in</title></head><body>
<h1>Campus sign-in</h1>
${message ? `<p id="idp-error">${escape(message)}</p>` : ""}
<form method="post" action="/interaction/${escape(uid)}/login">
  <label>Username <input name="username" id="idp-username" autofocus required></label>
  <label>Password <input name="password" id="idp-password" type="password" required></label>
  <button type="submit" id="idp-submit">Sign in</button>
</form></body></html>`;
}

async function readForm(req) {
  let body = "";
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

async function grantConsent(req, res, details) {
  const { prompt, grantId, session, params } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(" "));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  const result = { consent: { grantId: await grant.save() } };
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === "consent") return grantConsent(req, res, details);
  if (action !== "login" || req.method !== "POST") {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    return res.end(loginPage(uid, ""));
  }
  const form = await readForm(req);
  const username = (form.get("username") || "").trim();
  const account = accounts[username];
  if (!account || account.password !== form.get("password")) {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    return res.end(loginPage(uid, "Invalid username or password."));
  }
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: username } },
    { mergeWithLastSubmission: false },
  );
}

const oidc = provider.callback();
createServer(async (req, res) => {
  const match = /^\/interaction\/([^/?]+)(?:\/(login))?/.exec(req.url);
  if (!match) return oidc(req, res);
  try {
    await interaction(req, res, match[1], match[2]);
  } catch (err) {
    res.writeHead(400, { "content-type": "text/plain" });
    res.end(`sign-in failed: ${err.message}`);
  }
}).listen(config.port, "127.0.0.1", () => {
  console.log(`test identity provider at ${issuer}`);
});
