// Fails when src/api/schema.d.ts is not what openapi-typescript makes of the
// committed OpenAPI document (../schemas/json/openapi.json): run
// `npm run generate` and commit the result.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "car-api-"));
try {
  const fresh = join(dir, "schema.d.ts");
  execFileSync("npx", ["--no-install", "openapi-typescript", "../schemas/json/openapi.json", "--output", fresh], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  if (readFileSync(fresh, "utf8") !== readFileSync("src/api/schema.d.ts", "utf8")) {
    console.error(
      "ui/src/api/schema.d.ts is stale: run `npm --prefix ui run generate` (after `cargo run -p car-server -- schema --out schemas/json`) and commit the result",
    );
    process.exit(1);
  }
  console.log("ui/src/api/schema.d.ts is current");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
