// The dashboard in a real browser (Playwright driving Debian's chromium),
// against a running car-server, car-runner and the fake Messages API that
// reconciler/tests/dashboard.rs starts. It exits non-zero at the first
// thing that does not hold, saying what. Screenshots of every page, desktop
// and phone, go to e2e/screenshots/.
//
// Environment: CAR_UI (the dashboard's URL), CAR_ADMIN and CAR_VIEWER
// (user:password), CAR_CONFIG_DIR (the config folder the server syncs),
// CHROMIUM (default /usr/bin/chromium).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { chromium } from "playwright-core";

const UI = process.env.CAR_UI;
const [adminUser, adminPassword] = process.env.CAR_ADMIN.split(":");
const [viewerUser, viewerPassword] = process.env.CAR_VIEWER.split(":");
const SHOTS = new URL("./screenshots/", import.meta.url).pathname;
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  // As root, and on machines without a display or network beyond localhost (DESIGN.md).
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const problems = [];
const step = (what) => console.log(`- ${what}`);

function fail(what) {
  throw new Error(what);
}

/** A page that records console errors, failed scripts and dialogs (an alert would be script from agent output). */
async function newPage(viewport = { width: 1280, height: 860 }) {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  page.on("console", (m) => m.type() === "error" && !/status of 401/.test(m.text()) && problems.push(`console error on ${page.url()}: ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`script error on ${page.url()}: ${e.message}`));
  page.on("dialog", (d) => {
    problems.push(`a dialog opened on ${page.url()}: ${d.message()} (agent output ran as script?)`);
    void d.dismiss();
  });
  return page;
}

async function login(page, user, password) {
  await page.goto(`${UI}/`);
  await page.waitForURL(/\/login/);
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(`${UI}/`);
}

/** No serious or critical accessibility violation on the page as it is. */
async function axe(page, name) {
  // Through the DevTools protocol: the page's CSP (rightly) refuses inline scripts.
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(AXE);
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of bad) problems.push(`axe on ${name}: ${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

async function shoot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}-desktop.png`), fullPage: true });
  const size = page.viewportSize();
  await page.setViewportSize({ width: 375, height: 812 });
  await page.screenshot({ path: join(SHOTS, `${name}-phone.png`), fullPage: true });
  const wide = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  if (wide) problems.push(`${name} is wider than a 375 px phone`);
  await page.setViewportSize(size);
}

/** Starts `agent` on node local from the overview; returns the run's id once its page shows. */
async function startRun(page, agent, confirm = false) {
  await page.goto(`${UI}/`);
  await page.getByLabel("Agent").selectOption(agent);
  await page.getByLabel("Node").selectOption("local");
  await page.getByRole("button", { name: /^Run/ }).click();
  if (confirm) await page.getByRole("button", { name: `Run read-write ${agent} on local?` }).click();
  await page.waitForURL(/\/runs\/run_/);
  return page.url().split("/runs/")[1];
}

async function logLine(page, text, timeout = 60_000) {
  await page.getByTestId("log-line").filter({ hasText: text }).first().waitFor({ timeout });
}

try {
  const page = await newPage();

  step("an unknown visitor lands on the login page");
  await page.goto(`${UI}/runs/run_x`);
  await page.waitForURL(/\/login\?next=/);
  await axe(page, "login");
  await shoot(page, "login");
  await page.getByLabel("User name").fill(adminUser);
  await page.getByLabel("Password").fill("wrong password");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("alert").waitFor();

  step("the admin logs in and sees the node, its health and the sync");
  await login(page, adminUser, adminPassword);
  await page.getByTestId("node").filter({ hasText: "local" }).waitFor();
  await page.getByText("Synced").first().waitFor();
  await page.getByTestId("who").filter({ hasText: "admin" }).waitFor();

  step("a read-only run streams live to its end");
  const listed = await startRun(page, "lister");
  await logLine(page, "Bash: ls /");
  await logLine(page, "allow");
  await logLine(page, "finished: succeeded");
  await page.getByText("succeeded").first().waitFor();
  await axe(page, "run");
  await shoot(page, "run");

  step("the overview shows a run started elsewhere at once (live updates, not its 15 s timer)");
  await page.goto(`${UI}/`);
  await page.getByTestId("run-row").first().waitFor();
  const before = await page.getByTestId("run-row").count();
  const elsewhere = await newPage();
  await login(elsewhere, adminUser, adminPassword);
  await startRun(elsewhere, "lister");
  await page.getByTestId("run-row").nth(before).waitFor({ timeout: 8_000 });
  await elsewhere.context().close();
  await page.goto(`${UI}/runs/${listed}`);

  step("the log downloads");
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download log" }).click()]);
  const log = readFileSync(await download.path(), "utf8");
  if (!/#\d+ run finished/.test(log)) fail(`the downloaded log of ${listed} does not end its run:\n${log.slice(0, 500)}`);

  step("a finished run runs again on its node, with its context");
  await page.getByRole("button", { name: "Run again" }).click();
  await page.waitForURL((url) => url.pathname.startsWith("/runs/run_") && !url.pathname.endsWith(listed));
  await logLine(page, "finished: succeeded");
  await page.goto(`${UI}/runs/${listed}`);
  await logLine(page, "finished: succeeded");

  step("the filter finds lines while others hide");
  await page.getByLabel("Search the log").fill("Bash: ls");
  await page.getByText(/^1 of \d+ lines$/).waitFor();
  await page.getByLabel("Search the log").fill("");

  step("agent output is text, never markup");
  await startRun(page, "shouter");
  await logLine(page, "<img src=x onerror=alert(1)>");
  await logLine(page, "finished: succeeded");
  if (await page.locator("[data-testid=run-log] img, [data-testid=run-log] script").count())
    fail("agent output became elements in the page");

  step("a read-write run asks to confirm, holds its command, and runs it once approved");
  await startRun(page, "toucher", true);
  const held = page.getByTestId("approval");
  await held.waitFor({ timeout: 60_000 });
  if (!(await held.textContent()).includes("touch /tmp/car-dashboard-e2e")) fail("the held call does not show its command");
  if (!/denied in (59m|1h 0m)/.test(await held.textContent())) fail(`the held call does not count down to its timeout: ${await held.textContent()}`);
  await page.getByLabel("Comment").fill("fine by me");
  await page.getByRole("button", { name: "Approve" }).click();
  await logLine(page, "approval approve");
  await logLine(page, "finished: succeeded");

  step("a schedule's cron is edited in the dialog: previewed, committed, written to its file in place");
  const schedules = join(process.env.CAR_CONFIG_DIR, "schedules.yaml");
  writeFileSync(schedules, 'apiVersion: car/v1\nkind: Schedule\nmetadata: {name: nightly}\nspec:\n  # kept as written\n  cron: "0 3 * * *"\n  agents: [lister]\n  nodes: [local]\n');
  await page.goto(`${UI}/sync`);
  await page.getByRole("button", { name: "Refresh now" }).click();
  await page.goto(`${UI}/schedules`);
  const nightly = page.getByTestId("schedule").filter({ hasText: "nightly" });
  await nightly.waitFor({ timeout: 30_000 });
  await nightly.getByRole("button", { name: "Edit nightly" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Cron", { exact: true }).fill("30 4 * * *");
  await dialog.getByRole("button", { name: "Preview" }).click();
  await dialog.getByTestId("edit-diff").filter({ hasText: "30 4 * * *" }).waitFor();
  await dialog.getByTestId("edit-plan").filter({ hasText: "spec.cron" }).waitFor();
  await axe(page, "edit dialog");
  await shoot(page, "edit-dialog");
  await dialog.getByLabel("Commit message").fill("Run nightly after the backups");
  await dialog.getByRole("button", { name: "Commit" }).click();
  await dialog.getByTestId("edit-done").filter({ hasText: "Committed" }).waitFor();
  const written = readFileSync(schedules, "utf8");
  if (!/cron: ["']?30 4 \* \* \*/.test(written)) fail(`the commit did not write the new cron to schedules.yaml:\n${written}`);
  if (!written.includes("# kept as written")) fail(`the edit lost the file's comment:\n${written}`);
  await page.keyboard.press("Escape");
  await nightly.filter({ hasText: "30 4 * * *" }).waitFor({ timeout: 30_000 });

  step("every page renders, is accessible, and fits a phone");
  for (const [name, path] of [["overview", "/"], ["agents", "/agents"], ["agent", "/agents/lister"], ["nodes", "/nodes"], ["node", "/nodes/local"], ["sync", "/sync"], ["schedules", "/schedules"], ["notifications", "/notifications"], ["settings", "/settings"]]) {
    await page.goto(`${UI}${path}`);
    await page.locator("main h2, main h1").first().waitFor();
    await page.waitForLoadState("networkidle");
    await axe(page, name);
    await shoot(page, name);
  }

  step("the overview shows today's spend; the audit log filters by action");
  await page.goto(`${UI}/`);
  await page.getByTestId("spend").filter({ hasText: /Spent today \$0\.\d{4}/ }).waitFor();
  await page.goto(`${UI}/settings`);
  await page.getByLabel("Action").fill("auth.*");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.getByText("auth.login").first().waitFor();
  if (await page.getByText("run.started").count()) fail("the audit filter auth.* still lists run.started");

  step("a channel's test message says why it failed; a trigger's URL is there to copy");
  await page.goto(`${UI}/notifications`);
  await page.getByTestId("channel").filter({ hasText: "phone" }).waitFor();
  await page.getByRole("button", { name: "Send test" }).click();
  await page.getByRole("status").filter({ hasText: "phone did not take the test message: gotify channel phone: cannot connect" }).waitFor();
  await page.getByTestId("delivery").filter({ hasText: "Test message" }).waitFor();
  await page.goto(`${UI}/schedules`);
  await page.getByTestId("trigger").filter({ hasText: "/api/v1/hooks/disk-alert" }).waitFor();

  step("the command palette jumps and starts agents");
  await page.goto(`${UI}/agents`);
  await page.getByRole("link", { name: "lister" }).waitFor();
  await page.keyboard.press("Control+k");
  await page.getByRole("textbox", { name: "Go to, or start an agent" }).fill("run lister local");
  await axe(page, "command palette");
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/runs\/run_/);
  await logLine(page, "finished: succeeded");

  step("an API key is shown once");
  await page.goto(`${UI}/settings`);
  await page.getByLabel("Key name").fill("browser test");
  await page.getByRole("button", { name: "Create key" }).click();
  const key = await page.getByTestId("new-key").textContent();
  if (!key?.startsWith("car")) fail(`the new key looks wrong: ${key}`);
  await page.reload();
  await page.getByText("browser test").waitFor();
  if (await page.getByTestId("new-key").count()) fail("the key is shown again after a reload");

  step("enrolling a node gives a one-liner to copy");
  await page.goto(`${UI}/nodes`);
  await page.getByLabel("Node name (optional)").fill("pi");
  await page.getByRole("button", { name: "Create enrollment token" }).click();
  const command = await page.getByTestId("enroll-command").textContent();
  if (!/curl .*\/install.*care_/.test(command ?? "")) fail(`the enrollment one-liner looks wrong: ${command}`);

  step("a secret is set and listed by name, its value never shown");
  await page.goto(`${UI}/settings`);
  await page.getByLabel("Secret name").fill("gotify-token");
  await page.getByLabel("Secret value").fill("s3cret-value-of-the-browser-test");
  await page.getByRole("button", { name: "Set secret" }).click();
  await page.getByText("gotify-token").waitFor();
  if ((await page.content()).includes("s3cret-value-of-the-browser-test")) fail("the secret's value is in the page");

  step("a broken commit's error shows on the sync page with its file and line");
  writeFileSync(join(process.env.CAR_CONFIG_DIR, "broken.yaml"), "apiVersion: car/v1\nkind: Agent\nmetadata: {name: broken}\nspec:\n  prompt: x\n  mode: sometimes\n");
  await page.goto(`${UI}/sync`);
  await page.getByRole("button", { name: "Refresh now" }).click();
  await page.getByTestId("sync-errors").filter({ hasText: "broken.yaml:6" }).waitFor({ timeout: 30_000 });
  await shoot(page, "sync-error");

  step("a viewer sees everything and can start nothing");
  const viewer = await newPage();
  await login(viewer, viewerUser, viewerPassword);
  await viewer.getByTestId("run-row").first().waitFor();
  if (await viewer.getByRole("button", { name: /^Run/ }).count()) fail("a viewer is offered to start runs");
  await viewer.goto(`${UI}/runs/${listed}`);
  await logLine(viewer, "finished: succeeded");
  if (await viewer.getByRole("button", { name: "Cancel" }).count()) fail("a viewer is offered to cancel");
  await viewer.goto(`${UI}/schedules`);
  await viewer.getByTestId("schedule").first().waitFor();
  if (await viewer.getByRole("button", { name: /Edit|in git|Delete/ }).count()) fail("a viewer is offered to edit git");

  step("logging out ends the session");
  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(/\/login/);
  await page.goto(`${UI}/`);
  await page.waitForURL(/\/login/);
} catch (e) {
  problems.unshift(`stopped: ${e.message}`);
} finally {
  await browser.close();
}

if (problems.length) {
  console.error(`the dashboard falls short:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  process.exit(1);
}
console.log(`the dashboard holds; screenshots in ${SHOTS}`);
