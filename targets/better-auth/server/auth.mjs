// The conform test server: better-auth with email+password, organization,
// api-key (key metadata on), bearer and admin, on SQLite (better-sqlite3),
// served on 127.0.0.1 by node:http. Test configuration, not a deployment:
// rate limits off (global and the api-key plugin's), cheap password hashing
// (SHA-256 instead of scrypt), a fixed secret, a frozen clock (hooks.mjs).
import { clock } from "./hooks.mjs"; // first: installs the frozen clock
import { betterAuth } from "better-auth";
import { admin, bearer, organization } from "better-auth/plugins";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import { apiKey } from "@better-auth/api-key";
import Database from "better-sqlite3";
import { createHash, createHmac } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SECRET = "authproof-conform-test-secret-not-for-production-0001";
const sha256hex = (s) => createHash("sha256").update(s, "utf8").digest("hex");
const SCHEME = "authproof-test-sha256:";

function version(n) {
  try {
    return JSON.parse(fs.readFileSync(path.join(HERE, "..", "node_modules", n, "package.json"), "utf8")).version;
  } catch {
    return null;
  }
}

export async function startServer() {
  const db = new Database(":memory:");
  let baseURL = "http://127.0.0.1";
  const make = () =>
    betterAuth({
      appName: "authproof-conform",
      baseURL,
      secret: SECRET,
      database: db,
      telemetry: { enabled: false },
      rateLimit: { enabled: false },
      logger: { disabled: true },
      emailAndPassword: {
        enabled: true,
        password: {
          hash: async (p) => SCHEME + sha256hex(p),
          verify: async ({ hash, password }) => hash === SCHEME + sha256hex(password),
        },
      },
      plugins: [organization(), apiKey({ enableMetadata: true, rateLimit: { enabled: false } }), bearer(), admin()],
    });
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  baseURL = `http://127.0.0.1:${server.address().port}`;
  const auth = make();
  const handler = toNodeHandler(auth);
  const migrations = await getMigrations(auth.options);
  await migrations.runMigrations();
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all().map((r) => r.name);
  return {
    auth,
    url: baseURL,
    clock,
    versions: { "better-auth": version("better-auth"), "@better-auth/api-key": version("@better-auth/api-key") },
    // Test-only hook: empty every table (a fresh service, same schema).
    async reset() {
      db.exec("PRAGMA foreign_keys = OFF");
      for (const t of tables) db.exec(`DELETE FROM "${t}"`);
      db.exec("PRAGMA foreign_keys = ON");
    },
    // The signed cookie value better-auth sets for a session token.
    sign: (token) => `${token}.${createHmac("sha256", SECRET).update(token).digest("base64")}`,
    close: () => new Promise((r) => server.close(r)),
  };
}
