import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { channelForm } from "./forms/channel";
import { rawForm } from "./forms/raw";
import { scheduleForm } from "./forms/schedule";
import { NEW_RULE, NewObjectDialog } from "./new-object";
import { resetServer, server } from "./test-api";

vi.mock("@/api/query", async (original) => (await import("./test-api")).withFakeApi(await original<object>()));

beforeEach(resetServer);
afterEach(cleanup);

const result = (over: object = {}) => ({ commit: null, revision: "rev-head", rebased: false, file: "schedules/disk-check.yaml", diff: "+cron: 0 3 * * *\n", plan: [], warnings: [], ...over });

function open(ui: React.ReactElement, button: string) {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(<QueryClientProvider client={queryClient}>{ui}</QueryClientProvider>);
  fireEvent.click(screen.getByRole("button", { name: button }));
}

const previewButton = () => screen.getByRole("button", { name: "Preview" }) as HTMLButtonElement;
const nameInput = () => screen.getByLabelText("Name") as HTMLInputElement;

describe("NewObjectDialog", () => {
  it("waits for a valid name, then creates the schedule under it with the form's spec", async () => {
    open(<NewObjectDialog kind="schedules" noun="schedule" model={scheduleForm} start={{ cron: "0 3 * * *" }} taken={["nightly"]} />, "New schedule");
    expect(screen.getByRole("heading", { name: "Add schedule" })).toBeTruthy();
    expect(nameInput().value).toBe("");
    expect(previewButton().disabled).toBe(true);
    expect((screen.getByLabelText("Cron") as HTMLInputElement).value).toBe("0 3 * * *");

    fireEvent.change(nameInput(), { target: { value: "Disk_Check" } });
    expect(screen.getByTestId("field-error").textContent).toMatch(/Lowercase letters, digits and '-'/);
    expect(nameInput().getAttribute("aria-invalid")).toBe("true");
    expect(previewButton().disabled).toBe(true);
    fireEvent.change(nameInput(), { target: { value: "nightly" } });
    expect(screen.getByTestId("field-error").textContent).toContain("nightly already exists");
    expect(previewButton().disabled).toBe(true);

    fireEvent.change(nameInput(), { target: { value: "disk-check" } });
    expect(screen.queryByTestId("field-error")).toBeNull();
    expect(previewButton().disabled).toBe(false);
    fireEvent.click(await screen.findByLabelText("lister"));

    const spec = { cron: "0 3 * * *", agents: ["lister"], nodes: "all" };
    server.answers.push([200, result({ plan: [{ action: "add", kind: "Schedule", name: "disk-check", file: "schedules/disk-check.yaml", line: 1 }] })]);
    fireEvent.click(previewButton());
    await screen.findByTestId("edit-diff");
    expect(server.requests[0]).toEqual({ method: "POST", path: "/api/v1/config/schedules/disk-check/preview", body: { spec, base_revision: "rev-head", message: null } });

    server.answers.push([200, result({ commit: "0123456789abcdef0123456789abcdef01234567" })]);
    fireEvent.click(screen.getByRole("button", { name: "Commit" }));
    expect((await screen.findByTestId("edit-done")).textContent).toContain("Committed 0123456 to schedules/disk-check.yaml");
    expect(server.requests[1]).toEqual({ method: "PUT", path: "/api/v1/config/schedules/disk-check", body: { spec, base_revision: "rev-head", message: null } });
  });

  it("shows the server's refusal of the name at the name field", async () => {
    open(<NewObjectDialog kind="notification-rules" noun="rule" model={rawForm} start={{ json: NEW_RULE }} />, "New rule");
    fireEvent.change(nameInput(), { target: { value: "failures" } });
    server.answers.push([
      422,
      {
        error: { code: "invalid", message: "the edit leaves the config invalid (1 error)", hint: "" },
        errors: [{ field: "metadata.name", file: "notify/failures.yaml", line: 3, column: 9, message: "a NotificationChannel is already named failures" }],
      },
    ]);
    fireEvent.click(previewButton());
    const error = await screen.findByText("a NotificationChannel is already named failures");
    expect(nameInput().getAttribute("aria-describedby")).toContain(error.closest("ul")!.id);
    expect(server.requests[0]?.body).toEqual({ spec: { events: ["run.failed"], channels: [] }, base_revision: "rev-head", message: null });
  });

  it("names a new channel's token secret after the name typed", async () => {
    open(<NewObjectDialog kind="notification-channels" noun="channel" model={channelForm} />, "New channel");
    fireEvent.change(nameInput(), { target: { value: "phone" } });
    expect((screen.getByLabelText("Token secret name") as HTMLInputElement).value).toBe("phone-token");
    fireEvent.change(screen.getByLabelText("Gotify URL"), { target: { value: "https://gotify.lan" } });
    fireEvent.change(screen.getByLabelText("New token"), { target: { value: "typed-token" } });
    server.answers.push([200, result({ file: "notify/phone.yaml" })]);
    fireEvent.click(previewButton());
    await screen.findByTestId("edit-diff");
    expect(server.requests[0]?.path).toBe("/api/v1/config/notification-channels/phone/preview");
    expect(server.requests[0]?.body).toMatchObject({ spec: { gotify: { url: "https://gotify.lan", token: { secret: "phone-token", value: "typed-token" } } } });
    await waitFor(() => expect(document.body.innerHTML).not.toContain("typed-token"));
  });
});
