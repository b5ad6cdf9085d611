// A NotificationChannel: Gotify (URL and application token) or a webhook
// (URL). The token is typed as a secret: it goes to the server's secret
// store under the name given (`<channel>-token` unless changed) and git
// gets only `{secret: name}`. The typed value is sent with the edit and
// shown nowhere. With no token typed, the token reference git has (`{env}`
// or `{secret}`) stays as it is. Fields the form does not show (a
// webhook's headers, its signing secret) go back as they came.
import { Input } from "@/components/ui/input";
import { RadioChoice } from "../choices";
import { Field, type FormModel, type FormProps } from "../form";
import { getPath, isObject, optional, secretRef, setPath, text } from "../spec";

export type ChannelValues = {
  description: string;
  type: "gotify" | "webhook";
  url: string;
  /** The secret the Gotify token is stored as. */
  tokenSecret: string;
  /** A new token, typed; empty: the secret already stored under `tokenSecret`. */
  tokenValue: string;
};

/** The secret a spec's Gotify token refers to, if it is one. */
function storedAs(spec: unknown): string | undefined {
  const token = getPath(spec, "gotify.token");
  return isObject(token) && typeof token.secret === "string" ? token.secret : undefined;
}

/** Where a spec's Gotify token comes from, in words: "the secret phone-token", "the environment variable GOTIFY_TOKEN". */
function tokenSource(spec: unknown): string | undefined {
  const token = getPath(spec, "gotify.token");
  if (token === undefined || token === null) return undefined;
  if (isObject(token) && typeof token.secret === "string") return `the secret ${token.secret}`;
  if (isObject(token) && typeof token.env === "string") return `the environment variable ${token.env}`;
  return "the token as git has it";
}

export const channelForm: FormModel<ChannelValues> = {
  read: (spec, name) => {
    const type = spec?.webhook != null ? "webhook" : "gotify";
    return {
      description: text(spec?.description),
      type,
      url: text(getPath(spec, `${type}.url`)),
      tokenSecret: storedAs(spec) ?? `${name}-token`,
      tokenValue: "",
    };
  },
  write: {
    description: (s, v) => setPath(s, "description", optional(v)),
    // The other kind's settings go; the URL moves over.
    type: (s, v, all) => {
      setPath(s, v === "gotify" ? "webhook" : "gotify", undefined);
      setPath(s, `${v}.url`, optional(all.url));
    },
    url: (s, v, all) => setPath(s, `${all.type}.url`, optional(v)),
    tokenSecret: (s, v, all) => all.type === "gotify" && setPath(s, "gotify.token", secretRef(v, all.tokenValue)),
    tokenValue: (s, v, all) => all.type === "gotify" && setPath(s, "gotify.token", secretRef(all.tokenSecret, v)),
  },
  // A Gotify channel needs a token: one that has none yet (a new channel, a webhook made a Gotify one)
  // refers to the secret the form names.
  always: (s, all) => {
    if (all.type === "gotify" && getPath(s, "gotify.token") === undefined) setPath(s, "gotify.token", secretRef(all.tokenSecret, all.tokenValue));
  },
  fields: {
    description: ["spec.description"],
    url: ["spec.gotify.url", "spec.webhook.url"],
    tokenSecret: ["spec.gotify.token"],
  },
  Form: ChannelForm,
};

function ChannelForm({ values: v, set, errors, spec, name }: FormProps<ChannelValues>) {
  // The token git has is kept while neither its secret's name nor a new token is typed.
  const kept = v.tokenSecret === (storedAs(spec) ?? `${name}-token`) ? tokenSource(spec) : undefined;
  return (
    <div className="grid gap-4 sm:grid-cols-2">
      <Field label="Description" hint="who reads this channel" errors={errors.description} className="sm:col-span-2">
        {(c) => <Input {...c} value={v.description} onChange={(e) => set({ description: e.target.value })} />}
      </Field>
      <div className="sm:col-span-2">
        <RadioChoice
          legend="Sends to"
          value={v.type}
          onChange={(type) => set({ type })}
          options={[
            { value: "gotify", label: "a Gotify server" },
            { value: "webhook", label: "a webhook" },
          ]}
        />
      </div>
      <Field label={v.type === "gotify" ? "Gotify URL" : "Webhook URL"} errors={errors.url} className="sm:col-span-2">
        {(c) => (
          <Input {...c} type="url" value={v.url} placeholder={v.type === "gotify" ? "https://gotify.lan" : "https://hooks.example.org/car"} onChange={(e) => set({ url: e.target.value })} autoComplete="off" />
        )}
      </Field>
      {v.type === "gotify" && (
        <>
          <Field label="Token secret name" hint="a new token is stored as this secret, and git refers to it by this name" errors={errors.tokenSecret}>
            {(c) => <Input {...c} className="font-mono" value={v.tokenSecret} onChange={(e) => set({ tokenSecret: e.target.value })} autoComplete="off" spellCheck={false} />}
          </Field>
          <Field
            label="New token"
            hint={
              kept
                ? `Leave empty to keep the token git refers to: ${kept}.`
                : `Leave empty to use the secret already stored as ${v.tokenSecret || "that name"}; the preview shows the reference that git gets.`
            }
          >
            {(c) => (
              <Input
                {...c}
                type="password"
                value={v.tokenValue}
                onChange={(e) => set({ tokenValue: e.target.value })}
                autoComplete="new-password"
                spellCheck={false}
                placeholder="stored on the server, never in git"
              />
            )}
          </Field>
        </>
      )}
    </div>
  );
}
