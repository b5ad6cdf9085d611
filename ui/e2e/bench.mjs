// The browser part of bench/dashboard.py (which starts the server and
// runner and prints the figures): measures in a real browser and prints one
// JSON line. Environment: CAR_UI, CAR_ADMIN (user:password), CHROMIUM.
import { chromium } from "playwright-core";

const UI = process.env.CAR_UI;
const [user, password] = process.env.CAR_ADMIN.split(":");
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();

// Log in, then the overview's first load with an empty cache: the scripts it fetches.
await page.goto(`${UI}/login`);
await page.getByLabel("User name").fill(user);
await page.getByLabel("Password").fill(password);
await page.getByRole("button", { name: "Log in" }).click();
await page.waitForURL(`${UI}/`);
const fresh = await browser.newContext();
await fresh.addCookies(await context.cookies());
const first = await fresh.newPage();
const scripts = [];
first.on("response", (r) => r.request().resourceType() === "script" && scripts.push(r.url()));
await first.goto(`${UI}/`, { waitUntil: "networkidle" });
await fresh.close();

const start = (agent) =>
  page.evaluate(async (agent) => {
    const r = await fetch("/api/v1/runs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ agent, node: "bench" }) });
    return (await r.json()).id;
  }, agent);

// b) Paced lines: the run view and, in another tab, a plain WebSocket client.
const paced = await start("paced");
const plain = await context.newPage();
await plain.goto(`${UI}/favicon.svg`);
await plain.evaluate((id) => {
  window.ws = [];
  const socket = new WebSocket(`ws://${location.host}/api/v1/runs/${id}/stream`);
  socket.onmessage = (m) => {
    const now = Date.now();
    const e = JSON.parse(m.data);
    if (e.type === "log" && e.data.line.startsWith("STAMP ")) window.ws.push(now - Number(e.data.line.split(" ")[1]));
  };
}, paced);
// The run view's tab in front: a hidden tab gets no animation frames.
await page.bringToFront();
await page.goto(`${UI}/runs/${paced}`);
await page.getByTestId("run-log").waitFor();
await page.evaluate(() => {
  window.dom = new Map();
  const seen = (el) => {
    if (!(el instanceof HTMLElement) || el.dataset.testid !== "log-line") return;
    const m = /STAMP (\d+) (\d+)/.exec(el.textContent ?? "");
    if (m && !window.dom.has(m[2])) window.dom.set(m[2], Date.now() - Number(m[1]));
  };
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) seen(n);
  }).observe(document.querySelector("[data-testid=run-log]"), { childList: true, subtree: true });
});
await page.getByTestId("log-line").filter({ hasText: "finished: " }).first().waitFor({ timeout: 120_000 });
await page.waitForTimeout(500);
const dom_ms = await page.evaluate(() => [...window.dom.values()]);
const ws_ms = await plain.evaluate(() => window.ws);
await plain.close();

// c) The big run: wait until it is done, then open its view cold and scroll it.
const big = await start("big");
await page.waitForFunction(
  async (id) => (await (await fetch(`/api/v1/runs/${id}`)).json()).status === "succeeded",
  big,
  { polling: 500, timeout: 300_000 },
);
const replay = await context.newPage();
await replay.goto(`${UI}/favicon.svg`);
const ws_replay_ms = await replay.evaluate(
  (id) =>
    new Promise((done) => {
      const t = performance.now();
      const socket = new WebSocket(`ws://${location.host}/api/v1/runs/${id}/stream`);
      socket.onmessage = (m) => JSON.parse(m.data).type === "run.finished" && done(performance.now() - t);
    }),
  big,
);
await replay.close();
const view = await context.newPage();
await view.addInitScript(() => {
  window.longTasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (window.scrolling) window.longTasks.push(e.duration);
  }).observe({ type: "longtask", buffered: false });
});
// BENCH_PROFILE=1: where the view's time goes while it takes in the run (top functions by self time, to stderr).
const cdp = process.env.BENCH_PROFILE === "1" ? await view.context().newCDPSession(view) : null;
if (cdp) {
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.start");
}
const t0 = Date.now();
await view.goto(`${UI}/runs/${big}`);
await view.getByTestId("log-line").first().waitFor();
const first_paint_ms = Date.now() - t0;
await view.getByTestId("log-line").filter({ hasText: "finished: " }).first().waitFor({ timeout: 120_000 });
const all_in_ms = Date.now() - t0;
if (cdp) {
  const { profile } = await cdp.send("Profiler.stop");
  const self = new Map();
  const dt = new Map();
  profile.samples.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  for (const n of profile.nodes) {
    const f = `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.split("/").pop()}:${n.callFrame.lineNumber}`;
    self.set(f, (self.get(f) ?? 0) + (dt.get(n.id) ?? 0) / 1000);
  }
  for (const [f, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.error(`${ms.toFixed(0).padStart(6)} ms  ${f}`);
}
const log = view.getByTestId("run-log");
await log.hover();
await view.evaluate(() => (window.scrolling = true));
for (let i = 0; i < 20; i++) {
  await view.mouse.wheel(0, -3000);
  await view.waitForTimeout(50);
}
await log.evaluate((el) => (el.scrollTop = 0));
await view.waitForTimeout(200);
for (let i = 0; i < 20; i++) {
  await view.mouse.wheel(0, 3000);
  await view.waitForTimeout(50);
}
await log.evaluate((el) => (el.scrollTop = el.scrollHeight));
await view.waitForTimeout(300);
const long_tasks = await view.evaluate(() => window.longTasks);
await browser.close();
console.log(JSON.stringify({ scripts, dom_ms, ws_ms, first_paint_ms, all_in_ms, ws_replay_ms, long_tasks }));
