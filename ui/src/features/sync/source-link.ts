// A link to a file at a revision in the repository's web UI, when the
// config repository's URL is one we know the shape of (GitHub, GitLab,
// Gitea, Forgejo); null for anything else (a local folder, ssh, an unknown host).

export function fileLink(source: string, revision: string | null | undefined, file: string, line?: number | null): string | null {
  if (!revision || !/^[0-9a-f]{7,40}$/.test(revision)) return null;
  let url: URL;
  try {
    url = new URL(source.replace(/^git@([^:]+):/, "https://$1/"));
  } catch {
    return null;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return null;
  const base = `${url.origin}${url.pathname.replace(/\.git$/, "").replace(/\/$/, "")}`;
  const anchor = line ? `#L${line}` : "";
  const host = url.hostname;
  const path = file.split("/").map(encodeURIComponent).join("/");
  if (host === "github.com") return `${base}/blob/${revision}/${path}${anchor}`;
  if (host.startsWith("gitlab.") || host === "gitlab.com") return `${base}/-/blob/${revision}/${path}${anchor}`;
  if (/gitea|forgejo|codeberg/.test(host)) return `${base}/src/commit/${revision}/${path}${anchor}`;
  return null;
}

/** `url` when it is an http(s) address a link may open (a pull request's), else null. */
export function webUrl(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return u.protocol === "https:" || u.protocol === "http:" ? url : null;
  } catch {
    return null;
  }
}
