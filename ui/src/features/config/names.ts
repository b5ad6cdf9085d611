// The names of objects: part of the path of an edit and of the file a new
// object is written to, so the same rule as the server's (a DNS label).

/** What the server accepts as an object's name. */
export const NAME_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Why `name` cannot name a new object (empty, malformed, or taken), or null when it can. */
export function nameProblem(name: string, taken: readonly string[] = []): string | null {
  if (name === "") return "A name is required.";
  if (name.length > 63) return "At most 63 characters.";
  if (!NAME_PATTERN.test(name)) return "Lowercase letters, digits and '-' only, starting and ending with a letter or digit.";
  if (taken.includes(name)) return `${name} already exists: edit it instead.`;
  return null;
}
