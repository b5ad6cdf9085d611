import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EditDialog } from "./edit-dialog";
import { channelForm } from "./forms/channel";
import { scheduleForm } from "./forms/schedule";
import { channelSpec } from "./forms/views";
import { channelView, resetServer, server } from "./test-api";

vi.mock("@/api/query", async (original) => (await import("./test-api")).withFakeApi(await original<object>()));

beforeEach(resetServer);
afterEach(cleanup);

const result = (over: object = {}) => ({ commit: null, revision: "rev-applied", rebased: false, file: "schedules.yaml", diff: "", plan: [], warnings: [], ...over });
const diff = '--- a/schedules.yaml\n+++ b/schedules.yaml\n@@ -4 +4 @@\n-  cron: "0 3 * * *"\n+  cron: "30 4 * * *"\n';
const nightly = { cron: "0 3 * * *", agents: ["lister"], nodes: "all", notify: { onFailure: { channels: ["phone"] } } };

function open(ui: React.ReactElement) {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(<QueryClientProvider client={queryClient}>{ui}</QueryClientProvider>);
  fireEvent.click(screen.getByRole("button", { name: "Edit" }));
  return queryClient;
}

const editNightly = () =>
  open(<EditDialog kind="schedules" name="nightly" title="schedule nightly" model={scheduleForm} spec={nightly} revision="rev-applied" trigger={<button>Edit</button>} />);

const preview = () => fireEvent.click(screen.getByRole("button", { name: "Preview" }));

describe("EditDialog", () => {
  it("shows each error at its field and the rest with file:line, then previews, commits and shows the commit", async () => {
    editNightly();
    const cron = screen.getByLabelText("Cron");
    fireEvent.change(cron, { target: { value: "61 3 * * *" } });
    server.answers.push([
      422,
      {
        error: { code: "invalid", message: "the edit leaves the config invalid (2 errors)", hint: "" },
        errors: [
          { field: "spec.cron", file: "schedules.yaml", line: 4, column: 9, message: "minute 61 is out of range" },
          { field: null, file: "rules.yaml", line: 2, column: 1, message: "rule r names an unknown channel", hint: "declare it" },
        ],
      },
    ]);
    preview();
    const atCron = await screen.findByText("minute 61 is out of range");
    expect(screen.getByLabelText("Cron").getAttribute("aria-describedby")).toContain(atCron.closest("ul")!.id);
    expect(within(screen.getByTestId("edit-errors")).getByText("rules.yaml:2:1")).toBeTruthy();
    await waitFor(() => expect(document.activeElement).toBe(screen.getByLabelText("Cron")));

    fireEvent.change(screen.getByLabelText("Cron"), { target: { value: "30 4 * * *" } });
    server.answers.push([200, result({ diff, plan: [{ action: "change", kind: "Schedule", name: "nightly", file: "schedules.yaml", line: 1, fields: [{ path: "spec.cron", old: "0 3 * * *", new: "30 4 * * *" }] }] })]);
    preview();
    await screen.findByTestId("edit-diff");
    expect(server.requests[1]).toEqual({
      method: "POST",
      path: "/api/v1/config/schedules/nightly/preview",
      body: { spec: { ...nightly, cron: "30 4 * * *" }, base_revision: "rev-applied", message: null },
    });
    expect(screen.getByTestId("edit-plan").textContent).toContain('spec.cron: "0 3 * * *" -> "30 4 * * *"');

    fireEvent.change(screen.getByLabelText("Commit message"), { target: { value: "Later, after the backups" } });
    server.answers.push([200, result({ diff, commit: "0123456789abcdef0123456789abcdef01234567" })]);
    fireEvent.click(screen.getByRole("button", { name: "Commit" }));
    expect((await screen.findByTestId("edit-done")).textContent).toContain("Committed 0123456 to schedules.yaml");
    expect(server.requests[2]).toEqual({
      method: "PUT",
      path: "/api/v1/config/schedules/nightly",
      body: { spec: { ...nightly, cron: "30 4 * * *" }, base_revision: "rev-applied", message: "Later, after the backups" },
    });
  });

  it("shows both versions of a conflict and edits again on theirs, the user's change kept", async () => {
    editNightly();
    fireEvent.change(screen.getByLabelText("Cron"), { target: { value: "30 4 * * *" } });
    const theirs = { ...nightly, jitter: "2m" };
    server.answers.push([
      409,
      {
        error: { code: "conflict", message: "Schedule nightly changed in rev-new since rev-applied; nothing was written", hint: "" },
        conflict: { kind: "Schedule", name: "nightly", base_revision: "rev-applied", head_revision: "rev-new", head_author: "Ann", head_message: "Add jitter", yours: { ...nightly, cron: "30 4 * * *" }, theirs, base: nightly },
      },
    ]);
    preview();
    const conflict = await screen.findByTestId("edit-conflict");
    expect(conflict.textContent).toContain("by Ann: Add jitter");
    expect(within(conflict).getByLabelText("Their version").textContent).toContain('"jitter": "2m"');

    fireEvent.click(screen.getByRole("button", { name: "Reload and edit again" }));
    expect((screen.getByLabelText("Cron") as HTMLInputElement).value).toBe("30 4 * * *");
    expect((screen.getByLabelText("Jitter") as HTMLInputElement).value).toBe("2m");
    server.answers.push([200, result({ diff })]);
    preview();
    await screen.findByTestId("edit-diff");
    expect(server.requests[1]?.body).toEqual({ spec: { ...theirs, cron: "30 4 * * *" }, base_revision: "rev-new", message: null });
  });

  it("sends a typed token as a secret and shows it nowhere", async () => {
    const c = channelView({ description: "My phone", gotify: { url: "http://gotify.lan", token: { env: "GOTIFY_TOKEN" } } }, "rev-channel");
    open(<EditDialog kind="notification-channels" name="phone" title="channel phone" model={channelForm} spec={channelSpec(c)} trigger={<button>Edit</button>} revision={c.revision} />);
    expect(screen.getByText("Leave empty to keep the token git refers to: the environment variable GOTIFY_TOKEN.")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("New token"), { target: { value: "s3cret-typed-token" } });
    server.answers.push([200, result({ file: "notify.yaml", diff: "+    token: {secret: phone-token}\n" })]);
    preview();
    await screen.findByTestId("edit-diff");
    expect(server.requests[0]?.body).toEqual({
      spec: { description: "My phone", gotify: { url: "http://gotify.lan", token: { secret: "phone-token", value: "s3cret-typed-token" } } },
      base_revision: "rev-channel",
      message: null,
    });
    expect(document.body.innerHTML).not.toContain("s3cret-typed-token");
    server.answers.push([200, result({ commit: "abcdef0123456789" })]);
    fireEvent.click(screen.getByRole("button", { name: "Commit" }));
    await screen.findByTestId("edit-done");
    expect(server.requests[1]?.body).toMatchObject({ spec: { gotify: { token: { secret: "phone-token", value: "s3cret-typed-token" } } } });
    await waitFor(() => expect(document.body.innerHTML).not.toContain("s3cret-typed-token"));
  });

  it("sends no mode unless one is chosen", async () => {
    editNightly();
    fireEvent.change(screen.getByLabelText("Cron"), { target: { value: "30 4 * * *" } });
    server.answers.push([200, result({ diff })]);
    preview();
    await screen.findByTestId("edit-diff");
    const where = screen.getByLabelText("Where it goes") as HTMLSelectElement;
    expect(where.value).toBe("");
    expect([...where.options].map((o) => o.textContent)).toEqual(["Server default", "Commit to the branch", "Open a pull request"]);
    fireEvent.change(where, { target: { value: "commit" } });
    fireEvent.change(where, { target: { value: "" } });
    server.answers.push([200, result({ diff, commit: "0123456789abcdef0123456789abcdef01234567" })]);
    fireEvent.click(screen.getByRole("button", { name: "Commit" }));
    await screen.findByTestId("edit-done");
    expect(server.requests[1]?.method).toBe("PUT");
    expect(server.requests[1]?.body).not.toHaveProperty("mode");
  });

  it("commits to the branch when that is chosen", async () => {
    editNightly();
    fireEvent.change(screen.getByLabelText("Cron"), { target: { value: "30 4 * * *" } });
    server.answers.push([200, result({ diff })]);
    preview();
    await screen.findByTestId("edit-diff");
    fireEvent.change(screen.getByLabelText("Where it goes"), { target: { value: "commit" } });
    server.answers.push([200, result({ diff, commit: "0123456789abcdef0123456789abcdef01234567" })]);
    fireEvent.click(screen.getByRole("button", { name: "Commit" }));
    expect((await screen.findByTestId("edit-done")).textContent).toContain("The sync applies it shortly");
    expect(server.requests[0]?.body).not.toHaveProperty("mode");
    expect(server.requests[1]?.body).toEqual({ spec: { ...nightly, cron: "30 4 * * *" }, base_revision: "rev-applied", message: null, mode: "commit" });
  });

  it("opens a pull request when that is chosen, links to it, and reloads the proposed changes", async () => {
    const queryClient = editNightly();
    const invalidate = vi.spyOn(queryClient, "invalidateQueries");
    fireEvent.change(screen.getByLabelText("Cron"), { target: { value: "30 4 * * *" } });
    server.answers.push([200, result({ diff })]);
    preview();
    await screen.findByTestId("edit-diff");
    fireEvent.change(screen.getByLabelText("Where it goes"), { target: { value: "pull-request" } });
    const url = "https://github.com/me/config/pull/12";
    server.answers.push([200, result({ diff, commit: "0123456789abcdef0123456789abcdef01234567", pull_request: { number: 12, url, branch: "car/schedules/nightly" } })]);
    fireEvent.click(screen.getByRole("button", { name: "Open pull request" }));
    const done = await screen.findByTestId("edit-done");
    expect(server.requests[1]?.body).toMatchObject({ mode: "pull-request" });
    expect(done.textContent).toContain("Pull request #12 opened");
    expect(done.textContent).not.toContain("applies it shortly");
    const link = within(done).getByRole("link", { name: /Pull request #12/ });
    expect(link.getAttribute("href")).toBe(url);
    expect(link.getAttribute("target")).toBe("_blank");
    expect(link.getAttribute("rel")).toBe("noopener noreferrer");
    expect(invalidate).toHaveBeenCalledWith({ queryKey: ["config", "changes"] });
  });
});
