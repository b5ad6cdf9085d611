import { describe, expect, it } from "vitest";
import { fileLink, webUrl } from "./source-link";

const rev = "0123456789abcdef0123456789abcdef01234567";

describe("fileLink", () => {
  it("links to the line in GitHub, GitLab and Gitea or Forgejo", () => {
    expect(fileLink("https://github.com/me/lab.git", rev, "agents/zfs.yaml", 6)).toBe(`https://github.com/me/lab/blob/${rev}/agents/zfs.yaml#L6`);
    expect(fileLink("git@github.com:me/lab.git", rev, "a.yaml")).toBe(`https://github.com/me/lab/blob/${rev}/a.yaml`);
    expect(fileLink("https://gitlab.com/me/lab", rev, "a.yaml", 2)).toBe(`https://gitlab.com/me/lab/-/blob/${rev}/a.yaml#L2`);
    expect(fileLink("https://codeberg.org/me/lab.git", rev, "a.yaml", 2)).toBe(`https://codeberg.org/me/lab/src/commit/${rev}/a.yaml#L2`);
  });
  it("gives no link for folders, unknown hosts and revisions that are not commits", () => {
    expect(fileLink("/srv/config", rev, "a.yaml")).toBeNull();
    expect(fileLink("https://git.example.org/lab.git", rev, "a.yaml")).toBeNull();
    expect(fileLink("https://github.com/me/lab", "local-1d0680", "a.yaml")).toBeNull();
  });
});

describe("webUrl", () => {
  it("lets http(s) addresses through and nothing else", () => {
    expect(webUrl("https://github.com/me/lab/pull/12")).toBe("https://github.com/me/lab/pull/12");
    expect(webUrl("http://gitea.lan/me/lab/pulls/3")).toBe("http://gitea.lan/me/lab/pulls/3");
    expect(webUrl("javascript:alert(1)")).toBeNull();
    expect(webUrl("not a url")).toBeNull();
    expect(webUrl(null)).toBeNull();
  });
});
