#!/usr/bin/env node
// Seeds a better-auth database through better-auth's OWN server API, then
// records better-auth's own answers (getSession, verifyApiKey) for requests
// built from the real credentials, and the storage facts an importer needs.
//
//   node seed.mjs --db sqlite:/tmp/ba.db --out /tmp/ba-out
//   node seed.mjs --db postgres://user@host/db --out /tmp/ba-pg
//
// Outputs in --out (default: a new temporary directory, never the repository):
//   requests.jsonl  authproof requests (SPEC §4) holding the REAL tokens (test inputs)
//   answers.jsonl   one line per request: better-auth's answer
//   facts.json      schema, storage encodings, rows (token columns as SHA-256 only)
//   secret          the test secret that signs the session cookies (mode 600)
// The seeded database keeps the state as seeded: the answers are asked on a
// copy (SQLite: OUT/answered.db; PostgreSQL: a temporary database cloned with
// CREATE DATABASE ... TEMPLATE and dropped afterwards), because answering
// writes (better-auth deletes expired sessions and keys, refreshes sessions,
// counts key usage). facts.json lists those writes.
//
// Nothing here prints a raw token: logs name a token by the first 8 hex
// characters of its SHA-256 at most.
import { betterAuth } from "better-auth";
import { admin, bearer, organization } from "better-auth/plugins";
import { getMigrations } from "better-auth/db/migration";
import { apiKey } from "@better-auth/api-key";
import Database from "better-sqlite3";
import pg from "pg";
import { createHash, createHmac } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const VERSIONS = Object.fromEntries(
  ["better-auth", "@better-auth/api-key", "@better-auth/core", "better-sqlite3", "pg", "kysely"].map((n) => {
    try {
      return [n, JSON.parse(fs.readFileSync(path.join(HERE, "node_modules", n, "package.json"), "utf8")).version];
    } catch {
      return [n, null];
    }
  }),
);

// ---------- arguments ----------
function usage(msg) {
  if (msg) process.stderr.write(`seed: ${msg}\n`);
  process.stderr.write("usage: node seed.mjs --db sqlite:PATH|postgres://... [--out DIR]\n");
  process.exit(1);
}
const argv = process.argv.slice(2);
let DB_URL = process.env.SEED_DB ?? null;
let OUT = null;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === "--db") DB_URL = argv[++i];
  else if (a.startsWith("--db=")) DB_URL = a.slice(5);
  else if (a === "--out") OUT = argv[++i];
  else if (a.startsWith("--out=")) OUT = a.slice(6);
  else if (a === "-h" || a === "--help") usage();
  else usage(`unknown argument ${JSON.stringify(a)}`);
}
if (!DB_URL) usage("--db is required");
const KIND = DB_URL.startsWith("sqlite:") ? "sqlite" : /^postgres(ql)?:\/\//.test(DB_URL) ? "postgres" : null;
if (!KIND) usage("--db must be sqlite:PATH or postgres://...");
if (!OUT) OUT = fs.mkdtempSync(path.join(os.tmpdir(), "ba-seed-"));
OUT = path.resolve(OUT);
fs.mkdirSync(OUT, { recursive: true });

const SECRET = process.env.BETTER_AUTH_SECRET ?? "authproof-better-auth-test-secret-not-for-production-0001";
const BASE_URL = "http://127.0.0.1:3000";
const T0 = Date.now();

// ---------- helpers ----------
const sha256hex = (s) => createHash("sha256").update(s, "utf8").digest("hex");
const fp = (s) => (s == null ? "-" : sha256hex(String(s)).slice(0, 8));
const log = (msg) => process.stderr.write(`seed: ${msg}\n`);
const b64urlNoPad = (buf) => buf.toString("base64").replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function errInfo(e) {
  return {
    status: e?.status ?? e?.statusCode ?? null,
    code: e?.body?.code ?? e?.code ?? null,
    message: e?.body?.message ?? e?.message ?? String(e),
  };
}
// Never let an exception message carry a token to the terminal: tokens are
// redacted from any text we print.
const KNOWN_SECRETS = new Set();
function redact(text) {
  let t = String(text);
  for (const s of KNOWN_SECRETS) if (s && s.length >= 8) t = t.split(s).join(`<token ${fp(s)}>`);
  return t;
}
process.on("unhandledRejection", (e) => {
  process.stderr.write(`seed: error: ${redact(e?.stack ?? e)}\n`);
  process.exit(1);
});

function withDbName(url, name) {
  const [base, query] = url.split("?");
  const i = base.lastIndexOf("/");
  if (i < base.indexOf("//") + 2) return `${base}/${name}${query ? "?" + query : ""}`;
  return `${base.slice(0, i)}/${name}${query ? "?" + query : ""}`;
}
function dbNameOf(url) {
  const base = url.split("?")[0];
  const i = base.lastIndexOf("/");
  return decodeURIComponent(base.slice(i + 1)) || "postgres";
}

// ---------- database ----------
function openDatabase(url) {
  if (url.startsWith("sqlite:")) {
    const p = url.replace(/^sqlite:(\/\/)?/, "");
    return { kind: "sqlite", path: p, handle: new Database(p) };
  }
  return { kind: "postgres", url, handle: new pg.Pool({ connectionString: url, max: 5 }) };
}
async function closeDatabase(db) {
  if (db.kind === "sqlite") db.handle.close();
  else await db.handle.end();
}
async function q(db, sql, params = []) {
  if (db.kind === "sqlite") {
    const st = db.handle.prepare(sql);
    return st.reader ? st.all(...params) : (st.run(...params), []);
  }
  return (await db.handle.query(sql, params)).rows;
}

// ---------- better-auth ----------
const PASSWORD_SCHEME = "authproof-test-sha256:";
function makeAuth(database, { sessionForKeys = false } = {}) {
  return betterAuth({
    appName: "authproof-seed",
    baseURL: BASE_URL,
    secret: SECRET,
    database,
    telemetry: { enabled: false },
    rateLimit: { enabled: false },
    logger: { disabled: true },
    emailAndPassword: {
      enabled: true,
      // Cheap hashing for tests (the library's default is scrypt).
      password: {
        hash: async (password) => PASSWORD_SCHEME + sha256hex(password),
        verify: async ({ hash, password }) => hash === PASSWORD_SCHEME + sha256hex(password),
      },
    },
    plugins: [
      organization(),
      apiKey({ enableMetadata: true, rateLimit: { enabled: false }, enableSessionForAPIKeys: sessionForKeys }),
      bearer(),
      admin(),
    ],
  });
}

function parseSetCookies(headers) {
  const list = typeof headers.getSetCookie === "function" ? headers.getSetCookie() : [headers.get("set-cookie") ?? ""];
  const out = {};
  for (const line of list) {
    for (const part of line.split(/,(?=\s*[^;,=\s]+=)/)) {
      const first = part.split(";")[0].trim();
      const eq = first.indexOf("=");
      if (eq > 0) out[first.slice(0, eq)] = { value: first.slice(eq + 1), attributes: part.split(";").slice(1).map((s) => s.trim()) };
    }
  }
  return out;
}

// ---------- main ----------
const db = openDatabase(DB_URL);
if (db.kind === "sqlite") {
  const n = q(db, "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'");
  if ((await n)[0].n > 0) usage(`${db.path} already has tables: give a new file`);
} else {
  const n = await q(db, "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'");
  if (n[0].n > 0) usage("the PostgreSQL database already has tables in schema public: give an empty one");
}
log(`better-auth ${VERSIONS["better-auth"]}, @better-auth/api-key ${VERSIONS["@better-auth/api-key"]}, ${db.kind}; out ${OUT}`);

const auth = makeAuth(db.handle);
const ctx = await auth.$context;

// Migrations, with better-auth's own getMigrations.
const tMig = Date.now();
const migrations = await getMigrations(auth.options);
const migrationSummary = {
  to_be_created: migrations.toBeCreated.map((t) => t.table),
  to_be_added: migrations.toBeAdded.map((t) => ({ table: t.table, fields: Object.keys(t.fields) })),
};
await migrations.runMigrations();
log(`migrations: created ${migrationSummary.to_be_created.join(", ")} (${Date.now() - tMig} ms)`);

const facts = {
  generated_by: "targets/better-auth/seed.mjs",
  versions: { ...VERSIONS, node: process.version },
  database: db.kind,
  config: {
    baseURL: BASE_URL,
    plugins: ["organization", "api-key (enableMetadata, rateLimit off)", "bearer", "admin"],
    rateLimit: "off",
    password_hashing: "test-only sha256 (emailAndPassword.password.hash/verify)",
    secret_file: "secret",
  },
  migrations: migrationSummary,
  steps: [],
  checks: {},
};
const step = (what, detail = {}) => facts.steps.push({ what, ...detail });

// --- users ---
const users = {};
const sessions = {}; // name -> {token, cookieValue, authToken, userName, note}
const PASSWORD = "correct horse battery staple";
async function remember(name, userName, res, note) {
  const cookies = parseSetCookies(res.headers);
  const cookieName = ctx.authCookies.sessionToken.name;
  const cookieValue = cookies[cookieName]?.value ?? null;
  const token = res.response.token;
  const authToken = res.headers.get("set-auth-token");
  for (const s of [token, cookieValue, authToken, cookieValue && decodeURIComponent(cookieValue)]) if (s) KNOWN_SECRETS.add(s);
  sessions[name] = { token, cookieValue, authToken, userName, note, cookieAttributes: cookies[cookieName]?.attributes ?? [] };
  log(`session ${name} (${userName}) token ${fp(token)}`);
}
for (const [name, email] of [
  ["alice", "alice@acme.test"],
  ["bob", "bob@acme.test"],
  ["carol", "carol@globex.test"],
  ["dave", "dave@acme.test"],
  ["erin", "erin@acme.test"],
]) {
  const res = await auth.api.signUpEmail({ body: { name, email, password: PASSWORD }, returnHeaders: true });
  users[name] = { id: res.response.user.id, email };
  await remember(`${name}_signup`, name, res, "created by signUpEmail (autoSignIn)");
}
step("signUpEmail x5", { users: Object.fromEntries(Object.entries(users).map(([k, v]) => [k, v.id])) });
await ctx.internalAdapter.updateUser(users.alice.id, { role: "admin" });
step("alice role=admin (internalAdapter.updateUser)");

const H = (sessionName) => new Headers({ cookie: `${ctx.authCookies.sessionToken.name}=${sessions[sessionName].cookieValue}` });
async function signIn(name, userName, note) {
  const res = await auth.api.signInEmail({ body: { email: users[userName].email, password: PASSWORD }, returnHeaders: true });
  await remember(name, userName, res, note);
}

// --- organizations ---
await signIn("alice_live", "alice", "live, active organization acme");
const acme = await auth.api.createOrganization({ headers: H("alice_live"), body: { name: "Acme", slug: "acme" } });
const globex = await auth.api.createOrganization({
  headers: H("alice_live"),
  body: { name: "Globex", slug: "globex", keepCurrentActiveOrganization: true },
});
const orgs = { acme: acme.id, globex: globex.id };
step("createOrganization acme, globex (alice owner)", { orgs });
await auth.api.setActiveOrganization({ headers: H("alice_live"), body: { organizationId: orgs.acme } });

await auth.api.addMember({ body: { userId: users.bob.id, organizationId: orgs.acme, role: "admin" } });
await auth.api.addMember({ body: { userId: users.bob.id, organizationId: orgs.globex, role: "member" } });
await auth.api.addMember({ body: { userId: users.dave.id, organizationId: orgs.acme, role: "member" } });
await auth.api.addMember({ body: { userId: users.erin.id, organizationId: orgs.acme, role: "member" } });
// Two concurrent addMember for the same (user, organization): the API checks
// for an existing member, then inserts, with no unique index behind it.
const dup = await Promise.allSettled([
  auth.api.addMember({ body: { userId: users.carol.id, organizationId: orgs.globex, role: "member" } }),
  auth.api.addMember({ body: { userId: users.carol.id, organizationId: orgs.globex, role: "admin" } }),
]);
const dupOk = dup.filter((r) => r.status === "fulfilled").length;
let duplicateMember = { concurrent_addMember_succeeded: dupOk, errors: dup.filter((r) => r.status === "rejected").map((r) => errInfo(r.reason)) };
if (dupOk < 2) {
  // The race was lost: insert the duplicate through better-auth's adapter.
  await ctx.adapter.create({
    model: "member",
    data: { organizationId: orgs.globex, userId: users.carol.id, role: "admin", createdAt: new Date() },
  });
  duplicateMember.inserted_with = "ctx.adapter.create (the API refused the second)";
}
let secondAdd = null;
try {
  await auth.api.addMember({ body: { userId: users.carol.id, organizationId: orgs.globex, role: "member" } });
  secondAdd = { ok: true };
} catch (e) {
  secondAdd = errInfo(e);
}
duplicateMember.sequential_addMember_again = secondAdd;
step("addMember bob→acme(admin), bob→globex(member), dave→acme, erin→acme, carol→globex twice", { duplicateMember });

// --- sessions ---
await signIn("bob_b1", "bob", "active organization globex, left by bob through another session (dangling)");
await auth.api.setActiveOrganization({ headers: H("bob_b1"), body: { organizationId: orgs.globex } });
await signIn("bob_b2", "bob", "leaveOrganization globex through this session: its active organization is cleared");
await auth.api.setActiveOrganization({ headers: H("bob_b2"), body: { organizationId: orgs.globex } });
await auth.api.leaveOrganization({ headers: H("bob_b2"), body: { organizationId: orgs.globex } });
step("bob: two sessions active in globex; leaveOrganization globex through bob_b2");

await signIn("alice_revoked", "alice", "revokeSession: the row is deleted");
await auth.api.revokeSession({ headers: H("alice_live"), body: { token: sessions.alice_revoked.token } });
await signIn("alice_expired", "alice", "expiresAt set to now - 1h through the adapter");
await signIn("alice_stale", "alice", "expiresAt set to now + 5d: due for the sliding refresh (updateAge 1d)");
await signIn("carol_c1", "carol", "deleted when carol is banned");
await signIn("dave_d1", "dave", "deleted when dave is banned");
await signIn("erin_e1", "erin", "live; erin is then banned by a direct update (no admin API), so the session survives");
step("signInEmail sessions; revokeSession alice_revoked");

// --- API keys ---
const keys = {}; // name -> {id, key, note}
async function mkKey(name, userName, body, note) {
  const r = await auth.api.createApiKey({ body: { userId: users[userName].id, ...body } });
  KNOWN_SECRETS.add(r.key);
  keys[name] = { id: r.id, key: r.key, userName, note };
  log(`api key ${name} (${userName}) ${fp(r.key)}`);
  return r;
}
await mkKey("k_alice_acme", "alice", {
  name: "alice-acme", prefix: "sk_live_",
  metadata: { organizationId: orgs.acme },
  permissions: { supervisor: ["connect"], conversation: ["read", "resume"] },
}, "live, bound to acme, with permissions");
await mkKey("k_alice_unbound", "alice", { name: "alice-unbound", prefix: "sk_live_" }, "live, no metadata: unbound");
await mkKey("k_alice_nometa_org", "alice", { name: "alice-other-meta", metadata: { purpose: "ci" } },
  "live, metadata without organizationId, no prefix");
await mkKey("k_alice_updated", "alice", { name: "alice-updated", prefix: "sk_live_", metadata: { organizationId: orgs.globex } },
  "metadata changed by updateApiKey from globex to acme");
await auth.api.updateApiKey({ body: { keyId: keys.k_alice_updated.id, userId: users.alice.id, metadata: { organizationId: orgs.acme } } });
await mkKey("k_alice_deleted", "alice", { name: "alice-deleted", prefix: "sk_live_", metadata: { organizationId: orgs.acme } },
  "deleteApiKey: the row is deleted");
await auth.api.deleteApiKey({ headers: H("alice_live"), body: { keyId: keys.k_alice_deleted.id } });
await mkKey("k_bob_disabled", "bob", { name: "bob-disabled", prefix: "sk_live_", metadata: { organizationId: orgs.acme } },
  "updateApiKey enabled=false");
await auth.api.updateApiKey({ body: { keyId: keys.k_bob_disabled.id, userId: users.bob.id, enabled: false } });
await mkKey("k_bob_expired", "bob", { name: "bob-expired", prefix: "sk_live_", expiresIn: 86400, metadata: { organizationId: orgs.acme } },
  "expiresIn 1d, then expiresAt set to now - 1h through the adapter");
await mkKey("k_bob_expiring", "bob", { name: "bob-30d", prefix: "sk_live_", expiresIn: 30 * 86400, metadata: { organizationId: orgs.acme },
  permissions: { workspace: ["read"] } }, "live, expires in 30 days");
await mkKey("k_carol_globex", "carol", { name: "carol-globex", prefix: "sk_live_", metadata: { organizationId: orgs.globex } },
  "live key of a banned user (banExpires set)");
await mkKey("k_dave_acme", "dave", { name: "dave-acme", prefix: "sk_live_", metadata: { organizationId: orgs.acme } },
  "live key of a banned user (no banExpires)");
step("createApiKey / updateApiKey / deleteApiKey", { keys: Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, v.id])) });

// --- bans ---
await auth.api.banUser({ headers: H("alice_live"), body: { userId: users.carol.id, banReason: "test", banExpiresIn: 86400 } });
await auth.api.banUser({ headers: H("alice_live"), body: { userId: users.dave.id, banReason: "test" } });
const bannedSignIn = {};
for (const u of ["carol", "dave"]) {
  try {
    await auth.api.signInEmail({ body: { email: users[u].email, password: PASSWORD } });
    bannedSignIn[u] = { ok: true };
  } catch (e) {
    bannedSignIn[u] = errInfo(e);
  }
}
step("banUser carol (banExpiresIn 1d), dave (no expiry); signInEmail as each", { bannedSignIn });
facts.checks.banned_user_sign_in = bannedSignIn;

// --- direct updates through better-auth's adapter (no API can do these) ---
const NOW = Date.now();
await ctx.internalAdapter.updateSession(sessions.alice_expired.token, { expiresAt: new Date(NOW - 3600e3) });
await ctx.internalAdapter.updateSession(sessions.alice_stale.token, { expiresAt: new Date(NOW + 5 * 86400e3) });
await ctx.adapter.update({ model: "apikey", where: [{ field: "id", value: keys.k_bob_expired.id }], update: { expiresAt: new Date(NOW - 3600e3) } });
await ctx.internalAdapter.updateUser(users.erin.id, { banned: true, banReason: "direct update" });
step("adapter updates: alice_expired.expiresAt=now-1h, alice_stale.expiresAt=now+5d, k_bob_expired.expiresAt=now-1h, erin.banned=true");

// ---------- facts from the seeded database ----------
async function schemaFacts(d) {
  const tables = {};
  if (d.kind === "sqlite") {
    const names = await q(d, "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
    for (const { name, sql } of names) {
      const cols = await q(d, `PRAGMA table_info("${name}")`);
      const idx = await q(d, `PRAGMA index_list("${name}")`);
      const indexes = [];
      for (const i of idx) indexes.push({ name: i.name, unique: !!i.unique, origin: i.origin, columns: (await q(d, `PRAGMA index_info("${i.name}")`)).map((c) => c.name) });
      const fks = await q(d, `PRAGMA foreign_key_list("${name}")`);
      tables[name] = {
        create_sql: sql,
        columns: cols.map((c) => ({ name: c.name, type: c.type, not_null: !!c.notnull, primary_key: !!c.pk, default: c.dflt_value })),
        indexes,
        foreign_keys: fks.map((f) => ({ column: f.from, references: `${f.table}.${f.to}`, on_delete: f.on_delete })),
      };
    }
  } else {
    const cols = await q(d, `SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default, ordinal_position
      FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`);
    for (const c of cols) {
      (tables[c.table_name] ??= { columns: [], indexes: [], foreign_keys: [] }).columns.push({
        name: c.column_name, type: c.data_type, udt: c.udt_name, not_null: c.is_nullable === "NO", default: c.column_default,
      });
    }
    for (const i of await q(d, "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY tablename, indexname")) {
      tables[i.tablename]?.indexes.push({ name: i.indexname, unique: /UNIQUE/.test(i.indexdef), definition: i.indexdef });
    }
    for (const f of await q(d, `SELECT tc.table_name, kcu.column_name, ccu.table_name AS ref_table, ccu.column_name AS ref_column, rc.delete_rule
        FROM information_schema.table_constraints tc
        JOIN information_schema.key_column_usage kcu ON tc.constraint_name = kcu.constraint_name AND tc.table_schema = kcu.table_schema
        JOIN information_schema.constraint_column_usage ccu ON tc.constraint_name = ccu.constraint_name AND tc.table_schema = ccu.table_schema
        JOIN information_schema.referential_constraints rc ON tc.constraint_name = rc.constraint_name AND tc.table_schema = rc.constraint_schema
        WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = 'public' ORDER BY 1, 2`)) {
      tables[f.table_name]?.foreign_keys.push({ column: f.column_name, references: `${f.ref_table}.${f.ref_column}`, on_delete: f.delete_rule });
    }
  }
  return tables;
}

// Raw rows with token columns replaced by their SHA-256 (hex). In SQLite
// typeof() of every value is recorded once per column.
const SECRET_COLUMNS = { session: ["token"], apikey: ["key", "start"], account: ["password", "accessToken", "refreshToken", "idToken"], verification: ["value"] };
async function dumpRows(d, table) {
  const rows = await q(d, d.kind === "sqlite" ? `SELECT * FROM "${table}"` : `SELECT * FROM "${table}" ORDER BY 1`);
  return rows.map((r) => {
    const o = {};
    for (const [k, v] of Object.entries(r)) {
      if ((SECRET_COLUMNS[table] ?? []).includes(k) && v != null) o[k] = { sha256: sha256hex(String(v)), length: String(v).length };
      else o[k] = v instanceof Date ? { pg_timestamp: v.toISOString() } : v;
    }
    return o;
  });
}
async function storageTypes(d, table) {
  if (d.kind === "sqlite") {
    const cols = (await q(d, `PRAGMA table_info("${table}")`)).map((c) => c.name);
    if (cols.length === 0) return {};
    const sel = cols.map((c) => `group_concat(DISTINCT typeof("${c}")) AS "${c}"`).join(", ");
    return (await q(d, `SELECT ${sel} FROM "${table}"`))[0];
  }
  const r = await q(d, `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema='public' AND table_name=$1`, [table]);
  return Object.fromEntries(r.map((c) => [c.column_name, c.data_type]));
}
const TABLES = ["user", "session", "account", "verification", "organization", "member", "invitation", "apikey"];

async function snapshotDb(d) {
  const out = {};
  for (const t of TABLES) {
    try {
      out[t] = await dumpRows(d, t);
    } catch {
      out[t] = null;
    }
  }
  return out;
}

facts.schema = await schemaFacts(db);
facts.rows = await snapshotDb(db);
facts.storage_types = {};
for (const t of TABLES) facts.storage_types[t] = await storageTypes(db, t).catch(() => null);

// Encodings, checked against the real tokens held in memory.
{
  const sessRows = await q(db, `SELECT "id", "token", "expiresAt", "createdAt", "activeOrganizationId", "userId" FROM "session"`);
  const byToken = new Map(sessRows.map((r) => [r.token, r]));
  const checks = [];
  for (const [name, s] of Object.entries(sessions)) {
    const row = byToken.get(s.token);
    const raw = decodeURIComponent(s.cookieValue ?? "");
    const dot = raw.lastIndexOf(".");
    const sigStd = createHmac("sha256", SECRET).update(s.token).digest("base64");
    checks.push({
      session: name,
      row_present: !!row,
      row_id: row?.id ?? null,
      token_stored_raw: row ? row.token === s.token : null,
      token_length: s.token.length,
      token_charset: /^[A-Za-z0-9]+$/.test(s.token) ? "[A-Za-z0-9]" : "other",
      cookie_is_percent_encoded: s.cookieValue !== raw,
      cookie_token_part_equals_token: raw.slice(0, dot) === s.token,
      cookie_signature_is_base64_std_hmac_sha256: raw.slice(dot + 1) === sigStd,
      cookie_equals_encodeURIComponent_token_dot_sig: s.cookieValue === encodeURIComponent(`${s.token}.${sigStd}`),
      set_auth_token_equals_cookie_value: s.authToken === s.cookieValue,
      set_auth_token_equals_decoded_cookie_value: s.authToken === raw,
      set_auth_token_percent_encoded: s.authToken != null && s.authToken.includes("%"),
      cookie_attributes: s.cookieAttributes,
      note: s.note,
    });
  }
  facts.checks.session_tokens = checks;

  const keyRows = await q(db, `SELECT "id", "key", "start", "prefix", "referenceId", "metadata", "permissions", "enabled", "expiresAt", "configId" FROM "apikey"`);
  const kById = new Map(keyRows.map((r) => [r.id, r]));
  const kchecks = [];
  for (const [name, k] of Object.entries(keys)) {
    const row = kById.get(k.id);
    const expect = b64urlNoPad(createHash("sha256").update(k.key, "utf8").digest());
    let metaParsed = null, metaDepth = 0, meta = row?.metadata ?? null;
    while (typeof meta === "string") {
      try { meta = JSON.parse(meta); metaDepth++; } catch { break; }
    }
    metaParsed = meta;
    kchecks.push({
      key: name,
      row_present: !!row,
      key_length: k.key.length,
      key_charset_after_prefix: /^[A-Za-z]+$/.test(k.key.slice((row?.prefix ?? "").length)) ? "[A-Za-z]" : "other",
      stored_equals_base64url_nopad_sha256: row ? row.key === expect : null,
      stored_length: row ? String(row.key).length : null,
      token_sha256_hex_from_stored: row ? Buffer.from(String(row.key), "base64url").toString("hex") : null,
      token_sha256_hex_matches: row ? Buffer.from(String(row.key), "base64url").toString("hex") === sha256hex(k.key) : null,
      start_is_first_6_chars: row ? row.start === k.key.slice(0, 6) : null,
      prefix: row?.prefix ?? null,
      owner_column_referenceId: row?.referenceId ?? null,
      owner_is_user_id: row ? row.referenceId === users[k.userName].id : null,
      metadata_stored: row?.metadata ?? null,
      metadata_stored_type: row ? (row.metadata === null ? "null" : typeof row.metadata) : null,
      metadata_json_parse_depth: metaDepth,
      metadata_parsed: metaParsed,
      permissions_stored: row?.permissions ?? null,
      enabled_stored: row?.enabled ?? null,
      expiresAt_stored: row?.expiresAt instanceof Date ? row.expiresAt.toISOString() : row?.expiresAt ?? null,
      configId: row?.configId ?? null,
      note: k.note,
    });
  }
  facts.checks.api_keys = kchecks;
  facts.checks.user_columns = (await q(db, `SELECT "id", "name", "role", "banned", "banReason", "banExpires" FROM "user"`)).map((r) => ({
    ...r, banExpires: r.banExpires instanceof Date ? { pg_timestamp: r.banExpires.toISOString() } : r.banExpires,
  }));
  facts.checks.member_rows = (await q(db, `SELECT "id", "userId", "organizationId", "role", "createdAt" FROM "member"`)).map((r) => ({
    ...r, createdAt: r.createdAt instanceof Date ? { pg_timestamp: r.createdAt.toISOString() } : r.createdAt,
  }));
  facts.checks.duplicate_member = duplicateMember;
  facts.checks.session_active_organization = sessRows.map((r) => ({ id: r.id, userId: r.userId, activeOrganizationId: r.activeOrganizationId }));
  // Time storage: the raw value as the database returns it, and in PostgreSQL its text form.
  if (db.kind === "postgres") {
    facts.checks.time_storage = await q(db, `SELECT "id", "expiresAt"::text AS expires_text, "createdAt"::text AS created_text,
      pg_typeof("expiresAt")::text AS type FROM "session" ORDER BY "createdAt" LIMIT 3`);
  } else {
    facts.checks.time_storage = await q(db, `SELECT "id", typeof("expiresAt") AS type, "expiresAt" AS expires_raw, "createdAt" AS created_raw FROM "session" LIMIT 3`);
  }
  const ms = [];
  for (const r of sessRows) {
    const v = r.createdAt instanceof Date ? r.createdAt.getTime() : new Date(typeof r.createdAt === "number" ? r.createdAt : String(r.createdAt)).getTime();
    ms.push(v % 1000);
  }
  facts.checks.session_createdAt_has_milliseconds = ms.some((m) => m !== 0);
}
facts.cookies = {
  session_token_cookie_name: ctx.authCookies.sessionToken.name,
  session_token_attributes: ctx.authCookies.sessionToken.attributes,
  session_data_cookie_name: ctx.authCookies.sessionData.name,
  dont_remember_cookie_name: ctx.authCookies.dontRememberToken.name,
};
facts.session_config = { expiresIn_seconds: ctx.sessionConfig.expiresIn, updateAge_seconds: ctx.sessionConfig.updateAge, freshAge_seconds: ctx.sessionConfig.freshAge ?? null };
{
  // The __Secure- prefix: the same options with an https baseURL.
  const httpsAuth = betterAuth({ ...auth.options, baseURL: "https://127.0.0.1:3000" });
  const hctx = await httpsAuth.$context;
  facts.cookies.session_token_cookie_name_https = hctx.authCookies.sessionToken.name;
}
log(`facts collected (${Object.values(facts.rows).reduce((n, r) => n + (r?.length ?? 0), 0)} rows)`);

// ---------- answers, on a copy ----------
let answerDb;
let cloneName = null;
if (db.kind === "sqlite") {
  const copy = path.join(OUT, "answered.db");
  fs.rmSync(copy, { force: true });
  await db.handle.backup(copy);
  await closeDatabase(db);
  answerDb = openDatabase(`sqlite:${copy}`);
} else {
  await closeDatabase(db);
  const src = dbNameOf(DB_URL);
  cloneName = `${src}_answers_${process.pid}`;
  const adminDb = openDatabase(withDbName(DB_URL, src === "template1" ? "postgres" : "template1"));
  await q(adminDb, `CREATE DATABASE "${cloneName}" TEMPLATE "${src}"`);
  await closeDatabase(adminDb);
  answerDb = openDatabase(withDbName(DB_URL, cloneName));
}
const authA = makeAuth(answerDb.handle);
const authK = makeAuth(answerDb.handle, { sessionForKeys: true });

const COOKIE = ctx.authCookies.sessionToken.name;
const requests = [];
function addReq(id, headers, meta) {
  requests.push({ id, headers, meta });
}
const s = sessions;
for (const [name, x] of Object.entries(s)) {
  addReq(`${name}/cookie`, { cookie: `${COOKIE}=${x.cookieValue}` }, { session: name, channel: "cookie (as set: signed, percent-encoded)" });
  addReq(`${name}/bearer-raw`, { authorization: `Bearer ${x.token}` }, { session: name, channel: "Bearer raw token" });
  addReq(`${name}/bearer-signed`, { authorization: `Bearer ${x.authToken}` }, { session: name, channel: "Bearer set-auth-token value" });
}
const live = s.alice_live;
const rawSigned = decodeURIComponent(live.cookieValue);
addReq("alice_live/cookie-decoded", { cookie: `${COOKIE}=${rawSigned}` }, { session: "alice_live", channel: "cookie, signed value percent-decoded" });
addReq("alice_live/cookie-raw-token", { cookie: `${COOKIE}=${live.token}` }, { session: "alice_live", channel: "cookie, raw unsigned token" });
addReq("alice_live/cookie-bad-signature", { cookie: `${COOKIE}=${encodeURIComponent(live.token + "." + createHmac("sha256", "wrong-secret").update(live.token).digest("base64"))}` },
  { session: "alice_live", channel: "cookie, signature by another secret" });
addReq("alice_live/cookie-secure-name", { cookie: `__Secure-${COOKIE}=${live.cookieValue}` }, { session: "alice_live", channel: "cookie named __Secure-… on an http baseURL" });
addReq("alice_live/cookie-with-others", { cookie: `theme=dark; ${COOKIE}=${live.cookieValue}; other=1` }, { session: "alice_live", channel: "cookie among others" });
addReq("alice_live/bearer-decoded", { authorization: `Bearer ${rawSigned}` }, { session: "alice_live", channel: "Bearer signed, not percent-encoded" });
addReq("alice_live/bearer-bad-signature+cookie-bob", {
  authorization: `Bearer ${live.token}.${createHmac("sha256", "wrong-secret").update(live.token).digest("base64")}`,
  cookie: `${COOKIE}=${s.bob_b1.cookieValue}`,
}, { session: "alice_live", channel: "bad Bearer beside bob's good cookie: fallback?" });
addReq("bearer-alice+cookie-bob", { authorization: `Bearer ${live.token}`, cookie: `${COOKIE}=${s.bob_b1.cookieValue}` },
  { session: "alice_live", channel: "Bearer alice and cookie bob: which wins" });
addReq("bearer-lowercase-scheme", { authorization: `bearer ${live.token}` }, { session: "alice_live", channel: "scheme 'bearer' lower case" });
addReq("none", {}, { channel: "no credential" });
for (const [name, k] of Object.entries(keys)) {
  addReq(`${name}/x-api-key`, { "x-api-key": k.key }, { key: name, channel: "x-api-key" });
  addReq(`${name}/bearer`, { authorization: `Bearer ${k.key}` }, { key: name, channel: "Bearer API key" });
}
addReq("k_alice_acme/x-api-key+cookie-bob", { "x-api-key": keys.k_alice_acme.key, cookie: `${COOKIE}=${s.bob_b1.cookieValue}` },
  { key: "k_alice_acme", channel: "x-api-key alice and cookie bob: which wins" });
addReq("x-api-key-unknown", { "x-api-key": "sk_live_" + "Z".repeat(64) }, { channel: "x-api-key, a key that does not exist" });
addReq("x-api-key-short", { "x-api-key": "sk_live_short" }, { channel: "x-api-key shorter than defaultKeyLength" });

const iso = (v) => (v == null ? null : new Date(v).toISOString());
function sessionAnswer(r) {
  if (!r) return { found: false };
  return {
    found: true,
    user_id: r.user?.id ?? null,
    user_banned: r.user?.banned ?? null,
    session_id: r.session?.id ?? null,
    token_sha256: r.session?.token ? sha256hex(r.session.token) : null,
    active_organization_id: r.session?.activeOrganizationId ?? null,
    expires_at: iso(r.session?.expiresAt),
    created_at: iso(r.session?.createdAt),
  };
}
async function getSessionAnswer(a, headers) {
  try {
    const r = await a.api.getSession({ headers: new Headers(headers) });
    const ans = sessionAnswer(r);
    if (ans.found && ans.token_sha256) {
      const before = sessionExpiryBefore(ans.token_sha256);
      if (before) {
        ans.expires_at_before = before;
        ans.refreshed = ans.expires_at !== before;
      }
    }
    return ans;
  } catch (e) {
    return { error: errInfo(e) };
  }
}
function sessionExpiryBefore(tokenHash) {
  const row = facts.rows.session?.find((r) => r.token?.sha256 === tokenHash);
  if (!row) return null;
  const v = row.expiresAt;
  return iso(v?.pg_timestamp ?? v);
}
// Keep the requests out of the creation second (docs/IMPORT.md §3, §4.1):
// authproof floors a request's `at` to whole seconds and the importer rounds
// every `createdAt` UP, so a request made in the same wall-clock second as
// the last write would find credentials "created after" it (not found)
// where better-auth, comparing milliseconds, finds them. Every write of the
// seed is done by now: start answering at the next whole second.
const lastWrite = Date.now();
await sleep(Math.ceil(lastWrite / 1000) * 1000 - lastWrite + 20);
facts.answers_not_before = new Date(Math.ceil(lastWrite / 1000) * 1000).toISOString();
log(`answers start at ${new Date().toISOString()} (last write ${new Date(lastWrite).toISOString()})`);
const tAns = Date.now();
const reqLines = [];
const ansLines = [];
for (const r of requests) {
  const at = new Date();
  const ans = { id: r.id, at: at.toISOString(), ...r.meta };
  if (r.headers["x-api-key"] !== undefined) {
    try {
      const v = await authA.api.verifyApiKey({ body: { key: r.headers["x-api-key"] } });
      ans.verify_api_key = {
        valid: v.valid,
        error_code: v.error?.code ?? null,
        error_message: v.error?.message ?? null,
        key_id: v.key?.id ?? null,
        reference_id: v.key?.referenceId ?? null,
        enabled: v.key?.enabled ?? null,
        expires_at: iso(v.key?.expiresAt),
        metadata: v.key?.metadata ?? null,
        permissions: v.key?.permissions ?? null,
      };
    } catch (e) {
      ans.verify_api_key = { error: errInfo(e) };
    }
    ans.get_session_enableSessionForAPIKeys = await getSessionAnswer(authK, r.headers);
  }
  ans.get_session = await getSessionAnswer(authA, r.headers);
  const req = { at: at.toISOString(), action: "session.read", headers: r.headers };
  reqLines.push(JSON.stringify({ ...req, id: undefined }));
  ansLines.push(JSON.stringify(ans));
}
fs.writeFileSync(path.join(OUT, "requests.jsonl"), reqLines.join("\n") + "\n", { mode: 0o600 });
fs.writeFileSync(path.join(OUT, "answers.jsonl"), ansLines.join("\n") + "\n");
fs.writeFileSync(path.join(OUT, "secret"), SECRET + "\n", { mode: 0o600 });
log(`answers: ${requests.length} requests (${Date.now() - tAns} ms)`);

// What answering wrote: compare the copy with the seeded state.
{
  const after = await snapshotDb(answerDb);
  const diff = {};
  for (const t of ["user", "session", "apikey", "member"]) {
    const b = new Map((facts.rows[t] ?? []).map((r) => [r.id, r]));
    const a = new Map((after[t] ?? []).map((r) => [r.id, r]));
    const deleted = [...b.keys()].filter((id) => !a.has(id));
    const added = [...a.keys()].filter((id) => !b.has(id));
    const changed = [];
    for (const [id, rb] of b) {
      const ra = a.get(id);
      if (!ra) continue;
      const cols = Object.keys(rb).filter((c) => JSON.stringify(rb[c]) !== JSON.stringify(ra[c]));
      if (cols.length) changed.push({ id, columns: Object.fromEntries(cols.map((c) => [c, { before: rb[c], after: ra[c] }])) });
    }
    diff[t] = { deleted, added, changed };
  }
  facts.answer_side_effects = diff;
}
facts.requests = requests.map((r) => ({ id: r.id, headers: Object.keys(r.headers), ...r.meta }));
facts.ids = { users, orgs, sessions: {}, keys: {} };
for (const [n, x] of Object.entries(sessions)) {
  facts.ids.sessions[n] = { token_sha256: sha256hex(x.token), user: x.userName, note: x.note };
}
for (const [n, k] of Object.entries(keys)) facts.ids.keys[n] = { id: k.id, token_sha256: sha256hex(k.key), user: k.userName, note: k.note };
facts.timing_ms = { total: Date.now() - T0 };
fs.writeFileSync(path.join(OUT, "facts.json"), JSON.stringify(facts, null, 2) + "\n");

await closeDatabase(answerDb);
if (cloneName) {
  const adminDb = openDatabase(withDbName(DB_URL, dbNameOf(DB_URL) === "template1" ? "postgres" : "template1"));
  await q(adminDb, `DROP DATABASE IF EXISTS "${cloneName}"`);
  await closeDatabase(adminDb);
}
log(`done in ${Date.now() - T0} ms: ${OUT}/{requests.jsonl,answers.jsonl,facts.json,secret}`);
