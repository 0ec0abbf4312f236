#!/usr/bin/env node
// authproof conform adapter for better-auth (docs/CONFORM.md).
//
// Speaks authproof-conform/1 on stdin/stdout (one JSON object per line) and
// drives a REAL better-auth server (server/auth.mjs) that it starts on
// 127.0.0.1 in this process. Requests (`authenticate`) go over HTTP with the
// translated headers; the other ops call better-auth's own endpoints through
// `auth.api` (the same handlers, in process) with the acting user's session
// headers, or, for what HTTP cannot do, the test-only hooks of
// server/hooks.mjs (clock, operator-created organizations).
//
// Tokens: better-auth mints its own session tokens and API keys. The adapter
// keeps a translation table from the SHA-256 of authproof's token to
// better-auth's token; a header presenting an authproof token is rewritten
// to present better-auth's (a session cookie gets better-auth's signature).
// No token is ever written to stdout or stderr.
import { createHash } from "node:crypto";
import readline from "node:readline";
import { startServer } from "./server/auth.mjs";
import { clock } from "./server/hooks.mjs";

const PROTOCOL = "authproof-conform/1";
const sha = (s) => createHash("sha256").update(s, "utf8").digest("hex");
const PASSWORD = "conform-password-0001";
const PREFIX = "sk_live_";

const srv = await startServer();
const { auth } = srv;

// ---------- translation tables (reset clears them) ----------
let T; // { users: id->{baId,email}, orgs: id->baId, sessions: id->{baId,token,user,hash}, keys: id->{baId,key,owner,hash}, tokens: sha->baToken, helper: user->headers, seenHashes:Set }
function fresh() {
  T = { users: new Map(), orgs: new Map(), sessions: new Map(), keys: new Map(), tokens: new Map(), helper: new Map(), hashes: new Set(), expiry: new Map() };
}
fresh();

const bearer = (tok) => new Headers({ authorization: `Bearer ${tok}` });
const emailOf = (u) => `${u.toLowerCase().replace(/[^a-z0-9]/g, "_")}@conform.test`;
const codeOf = (e) => e?.body?.code ?? e?.code ?? e?.message ?? String(e);
const ok = () => ({ result: "ok" });
// SPEC §1: a token is visible ASCII except `"` `,` `;` `\`. better-auth mints
// its own tokens, so only the adapter's translation can judge authproof's.
const validToken = (t) => typeof t === "string" && t.length > 0 && /^[\x21-\x7e]+$/.test(t) && !/[",;\\]/.test(t);
const rej = (reason) => ({ result: "rejected", reason });

async function helperHeaders(user) {
  // A session of `user` for the user's own endpoints (leave, delete a key):
  // better-auth's user-scoped endpoints need one. Made by signing in.
  const u = T.users.get(user);
  if (!u) return null;
  const h = T.helper.get(user);
  if (h) {
    const s = await auth.api.getSession({ headers: h, query: { disableRefresh: true } }).catch(() => null);
    if (s) return h;
  }
  const r = await auth.api.signInEmail({ body: { email: u.email, password: PASSWORD }, returnHeaders: true }).catch(() => null);
  if (!r) return null;
  const headers = bearer(r.response.token);
  T.helper.set(user, headers);
  return headers;
}

let operator = null; // admin session for ban/unban (test-only operator account)
async function operatorHeaders() {
  if (operator) return operator;
  const email = "operator@conform.internal";
  let r = await auth.api.signUpEmail({ body: { name: "operator", email, password: PASSWORD } }).catch(() => null);
  const ctx = await auth.$context;
  const u = await ctx.internalAdapter.findUserByEmail(email);
  await ctx.internalAdapter.updateUser(u.user.id, { role: "admin" });
  r = await auth.api.signInEmail({ body: { email, password: PASSWORD } });
  operator = bearer(r.token);
  return operator;
}

// ---------- ops ----------
const OPS = {
  async create_user({ user }) {
    if (T.users.has(user)) return rej("duplicate_id");
    try {
      const r = await auth.api.signUpEmail({ body: { name: user, email: emailOf(user), password: PASSWORD } });
      T.users.set(user, { baId: r.user.id, email: emailOf(user) });
      if (r.token) T.helper.set(user, bearer(r.token));
      return ok();
    } catch (e) {
      if (/ALREADY_EXISTS/.test(codeOf(e))) return rej("duplicate_id");
      throw e;
    }
  },
  async create_tenant({ tenant }) {
    if (T.orgs.has(tenant)) return rej("duplicate_id");
    // Test-only hook: an operator creates an organization without an owner
    // (better-auth's createOrganization always makes its caller the owner).
    const ctx = await auth.$context;
    const org = await ctx.adapter.create({ model: "organization", data: { name: tenant, slug: `t-${sha(tenant).slice(0, 16)}`, createdAt: new Date() } });
    T.orgs.set(tenant, org.id);
    return ok();
  },
  async add_member({ user, tenant, role }) {
    const u = T.users.get(user);
    if (!u) return rej("unknown_user");
    const o = T.orgs.get(tenant);
    if (!o) return rej("unknown_tenant");
    try {
      await auth.api.addMember({ body: { userId: u.baId, organizationId: o, role } });
      return ok();
    } catch (e) {
      const c = codeOf(e);
      if (/ALREADY_A_MEMBER/.test(c)) return rej("already_member");
      if (/USER_NOT_FOUND/.test(c)) return rej("unknown_user");
      if (/ORGANIZATION_NOT_FOUND/.test(c)) return rej("unknown_tenant");
      throw e;
    }
  },
  async remove_member({ user, tenant }) {
    // The member leaves through their own session (organization/leave).
    const u = T.users.get(user);
    const o = T.orgs.get(tenant);
    if (!u || !o) return rej("not_a_member");
    const h = await helperHeaders(user);
    if (!h) return rej("not_a_member");
    try {
      await auth.api.leaveOrganization({ headers: h, body: { organizationId: o } });
      return ok();
    } catch (e) {
      const c = codeOf(e);
      if (/NOT_A_MEMBER|MEMBER_NOT_FOUND|NOT_FOUND/.test(c)) return rej("not_a_member");
      return { result: "rejected", reason: null, explain: `better-auth refused: ${c}` };
    }
  },
  async ban_user({ user }) {
    const u = T.users.get(user);
    if (!u) return rej("unknown_user");
    try {
      await auth.api.banUser({ headers: await operatorHeaders(), body: { userId: u.baId } });
      T.helper.delete(user);
      return ok();
    } catch (e) {
      return { result: "rejected", reason: null, explain: `better-auth refused: ${codeOf(e)}` };
    }
  },
  async unban_user({ user }) {
    const u = T.users.get(user);
    if (!u) return rej("unknown_user");
    try {
      await auth.api.unbanUser({ headers: await operatorHeaders(), body: { userId: u.baId } });
      return ok();
    } catch (e) {
      return { result: "rejected", reason: null, explain: `better-auth refused: ${codeOf(e)}` };
    }
  },
  async login({ session, user, token, tenant }) {
    const h = sha(token);
    if (T.sessions.has(session)) return rej("duplicate_id");
    if (T.hashes.has(h)) return rej("duplicate_token");
    if (!validToken(token) || token.startsWith(PREFIX)) return rej("invalid_token");
    const u = T.users.get(user);
    if (!u) return rej("unknown_user");
    let r;
    try {
      r = await auth.api.signInEmail({ body: { email: u.email, password: PASSWORD } });
    } catch (e) {
      const c = codeOf(e);
      if (/BANNED/.test(c)) return rej("user_banned");
      if (/INVALID_EMAIL_OR_PASSWORD/.test(c)) return rej("unknown_user");
      throw e;
    }
    const headers = bearer(r.token);
    if (tenant !== undefined) {
      const o = T.orgs.get(tenant);
      try {
        if (!o) throw new Error("ORGANIZATION_NOT_FOUND");
        await auth.api.setActiveOrganization({ headers, body: { organizationId: o } });
      } catch (e) {
        // A client that cannot enter the tenant signs out again.
        await auth.api.signOut({ headers }).catch(() => {});
        return rej("not_a_member");
      }
    }
    const s = await auth.api.getSession({ headers, query: { disableRefresh: true } });
    T.sessions.set(session, { baId: s.session.id, token: r.token, user, hash: h });
    T.expiry.set(s.session.id, new Date(s.session.expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z"));
    T.tokens.set(h, r.token);
    T.hashes.add(h);
    return ok();
  },
  async logout({ session }) {
    const s = T.sessions.get(session);
    if (!s) return rej("session_not_found");
    const headers = bearer(s.token);
    const live = await auth.api.getSession({ headers, query: { disableRefresh: true } }).catch(() => null);
    if (!live) return rej("session_not_found");
    await auth.api.signOut({ headers });
    return ok();
  },
  async switch_tenant({ session, tenant }) {
    const s = T.sessions.get(session);
    if (!s) return rej("session_not_found");
    const headers = bearer(s.token);
    const o = T.orgs.get(tenant);
    try {
      await auth.api.setActiveOrganization({ headers, body: { organizationId: o ?? "unknown-organization" } });
      return ok();
    } catch (e) {
      const c = codeOf(e);
      if (e?.statusCode === 401 || /UNAUTHORIZED/.test(c)) return rej("session_not_found");
      if (/NOT_A_MEMBER|NOT_FOUND|FORBIDDEN/.test(c)) return rej("not_a_member");
      return { result: "rejected", reason: null, explain: `better-auth refused: ${c}` };
    }
  },
  async mint_api_key({ at, key, owner, tenant, token, capabilities, expires_at, name }) {
    const h = sha(token);
    if (T.keys.has(key)) return rej("duplicate_id");
    if (T.hashes.has(h)) return rej("duplicate_token");
    if (!validToken(token) || !token.startsWith(PREFIX)) return rej("invalid_token");
    const u = T.users.get(owner);
    const o = T.orgs.get(tenant);
    if (!u || !o) return rej("not_a_member");
    const body = { userId: u.baId, prefix: PREFIX, name: name ?? "", metadata: { organizationId: o } };
    if (capabilities && capabilities.length) body.permissions = Object.fromEntries(capabilities.map((c) => [c, ["use"]]));
    if (expires_at) body.expiresIn = Math.floor((Date.parse(expires_at) - Date.parse(at)) / 1000);
    try {
      const r = await auth.api.createApiKey({ body });
      T.keys.set(key, { baId: r.id, key: r.key, owner, hash: h });
      T.tokens.set(h, r.key);
      T.hashes.add(h);
      return ok();
    } catch (e) {
      const c = codeOf(e);
      if (/BANNED/.test(c)) return rej("user_banned");
      return { result: "rejected", reason: null, explain: `better-auth refused: ${c}` };
    }
  },
  async update_api_key(cmd) {
    const { at, key } = cmd;
    const k = T.keys.get(key);
    if (!k) return rej("api_key_not_found");
    const body = { keyId: k.baId, userId: T.users.get(k.owner).baId };
    if (cmd.name !== undefined && cmd.name !== null) body.name = cmd.name;
    if (cmd.enabled !== undefined && cmd.enabled !== null) body.enabled = cmd.enabled;
    if (cmd.expires_at !== undefined) body.expiresIn = cmd.expires_at === null ? null : Math.floor((Date.parse(cmd.expires_at) - Date.parse(at)) / 1000);
    // Fields authproof holds immutable, passed as better-auth names them.
    if (cmd.tenant !== undefined) body.metadata = { organizationId: T.orgs.get(cmd.tenant) ?? String(cmd.tenant) };
    if (cmd.metadata !== undefined) body.metadata = cmd.metadata;
    if (cmd.capabilities !== undefined && Array.isArray(cmd.capabilities)) body.permissions = Object.fromEntries(cmd.capabilities.map((c) => [String(c), ["use"]]));
    const extra = Object.keys(cmd).filter((f) => !["at", "op", "key", "name", "enabled", "expires_at", "tenant", "metadata", "capabilities"].includes(f));
    if (extra.length) return { result: "rejected", reason: null, explain: `no better-auth field for ${extra.join(", ")}` };
    try {
      await auth.api.updateApiKey({ body });
      return ok();
    } catch (e) {
      const c = codeOf(e);
      if (/KEY_NOT_FOUND/.test(c)) return rej("api_key_not_found");
      if (/NO_VALUES_TO_UPDATE/.test(c)) return rej("no_change");
      return { result: "rejected", reason: null, explain: `better-auth refused: ${c}` };
    }
  },
  async delete_api_key({ key }) {
    const k = T.keys.get(key);
    if (!k) return rej("api_key_not_found");
    const h = await helperHeaders(k.owner);
    try {
      if (!h) throw new Error("no session");
      await auth.api.deleteApiKey({ headers: h, body: { keyId: k.baId } });
      return ok();
    } catch (e) {
      const c = codeOf(e);
      if (/KEY_NOT_FOUND|NOT_FOUND/.test(c)) return rej("api_key_not_found");
      return { result: "rejected", reason: null, explain: `better-auth refused: ${c}` };
    }
  },
  async authenticate({ action, headers }) {
    const tr = translate(headers ?? {});
    if (action === "key.verify") return verifyKey(tr);
    const path = action === "workspace.read" ? "/api/auth/organization/get-full-organization" : "/api/auth/get-session";
    const res = await fetch(`${srv.url}${path}`, { headers: tr.headers });
    const body = res.status === 200 ? await res.json().catch(() => null) : null;
    // Who the credential is, and whether better-auth refreshed it: a
    // get-session on the same headers, without refresh, after the request.
    let sess = null;
    if (action === "workspace.read" || body) {
      const r2 = await fetch(`${srv.url}/api/auth/get-session?disableRefresh=true`, { headers: tr.headers });
      sess = r2.status === 200 ? await r2.json().catch(() => null) : null;
      if (action === "session.read") sess = body;
    }
    const allowed = res.status === 200 && body != null && sess != null;
    if (!allowed) return { result: "decision", decision: { decision: "deny", reason: null, status: res.status } };
    const sid = [...T.sessions.entries()].find(([, s]) => s.baId === sess.session.id);
    const session = sid ? sid[0] : sess.session.id;
    const user = [...T.users.entries()].find(([, u]) => u.baId === sess.user.id)?.[0] ?? sess.user.id;
    const expires = new Date(sess.session.expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z");
    const before = T.expiry.get(sess.session.id);
    T.expiry.set(sess.session.id, expires);
    const effects = before !== undefined && before !== expires ? [{ kind: "extend_session", session, expires_at: expires }] : [];
    return { result: "decision", decision: { decision: "allow", reason: null, status: 200, user, credential: { kind: "session", id: session }, effects } };
  },
};

async function verifyKey(tr) {
  const key = tr.apiKey;
  if (key === undefined) return { result: "decision", decision: { decision: "deny", reason: null, status: 401 } };
  const r = await auth.api.verifyApiKey({ body: { key } }).catch((e) => ({ valid: false, error: { code: codeOf(e) } }));
  if (!r.valid) return { result: "decision", decision: { decision: "deny", reason: null, status: 401 } };
  const k = [...T.keys.entries()].find(([, k]) => k.baId === r.key.id);
  const orgId = r.key.metadata?.organizationId ?? null;
  const tenant = [...T.orgs.entries()].find(([, id]) => id === orgId)?.[0] ?? orgId;
  return {
    result: "decision",
    decision: { decision: "allow", reason: null, status: 200, user: k?.[1].owner ?? null, credential: { kind: "api_key", id: k?.[0] ?? r.key.id }, tenant, scope: tenant ? [tenant] : [] },
  };
}

// authproof headers -> better-auth headers: every known token replaced by
// better-auth's; a session cookie gets better-auth's signature.
function translate(h) {
  const out = new Headers();
  let apiKey;
  for (const [name, value] of Object.entries(h)) {
    const lname = name.toLowerCase();
    let v = value;
    if (lname === "cookie") {
      v = value
        .split(";")
        .map((pair) => {
          const i = pair.indexOf("=");
          if (i < 0) return pair;
          const n = pair.slice(0, i);
          let val = pair.slice(i + 1);
          const quoted = val.length >= 2 && val.startsWith('"') && val.endsWith('"');
          const inner = quoted ? val.slice(1, -1) : val;
          const ba = T.tokens.get(sha(inner));
          if (ba !== undefined) val = encodeURIComponent(srv.sign(ba));
          return `${n}=${val}`;
        })
        .join(";");
    } else if (lname === "authorization") {
      const m = /^(\S+)( +)(.*?) *$/.exec(value);
      if (m) {
        const ba = T.tokens.get(sha(m[3]));
        if (ba !== undefined) v = `${m[1]}${m[2]}${ba}`;
      }
    } else if (lname === "x-api-key") {
      const ba = T.tokens.get(sha(value));
      v = ba ?? value;
      apiKey = v;
    }
    try {
      out.set(lname, v);
    } catch {
      // a value fetch refuses (control characters): not sent
    }
  }
  return { headers: out, apiKey };
}

// ---------- protocol ----------
async function handle(msg) {
  switch (msg.type) {
    case "hello":
      return {
        type: "hello",
        protocol: PROTOCOL,
        name: `better-auth ${srv.versions["better-auth"]} (@better-auth/api-key ${srv.versions["@better-auth/api-key"]}, SQLite)`,
        ops: ["create_tenant", "create_user", "ban_user", "unban_user", "add_member", "remove_member", "mint_api_key", "update_api_key", "delete_api_key", "login", "logout", "switch_tenant", "authenticate"],
        actions: ["session.read", "workspace.read", "key.verify"],
        reasons: "deny_only",
        rejections: "exact",
        indistinguishable_rejections: [["session_not_found", "session_revoked", "session_expired"]],
        decision_fields: ["decision", "user", "credential", "tenant", "scope", "effects"],
        changes: false,
        clock: true,
        observe: false,
        reset: "empty",
        request_tenant: false,
        notes: [
          "rate limits off (rateLimit.enabled false, api-key rateLimit off); password hashing is a test-only SHA-256",
          "test-only hooks: a frozen clock (each command's `at`), operator-created organizations, an operator admin account for ban/unban",
          "not run (no counterpart): suspend/reinstate tenant, set_role, revoke_api_key (better-auth disables or deletes), resources",
        ],
      };
    case "reset":
      await srv.reset();
      fresh();
      operator = null;
      return { type: "ok" };
    case "step": {
      const c = msg.command;
      clock.set(Date.parse(c.at));
      const f = OPS[c.op];
      if (!f) throw new Error(`unsupported op ${c.op}`);
      const r = await f(c);
      return { type: "result", result: { op: c.op, ...r } };
    }
    default:
      throw new Error(`unknown request type ${msg.type}`);
  }
}

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  const msg = JSON.parse(line);
  if (msg.type === "bye") break;
  let out;
  try {
    out = await handle(msg);
  } catch (e) {
    out = { type: "error", message: String(codeOf(e)).slice(0, 300) };
  }
  out.id = msg.id;
  process.stdout.write(JSON.stringify(out) + "\n");
}
await srv.close();
process.exit(0);
