// Any spec as JSON, for the kinds without a form of their own (triggers,
// notification rules). The whole spec is what the user writes: a key left
// out is removed (the dialog points out what an edit removes when the
// dashboard could not read the spec to start with).
import { Textarea } from "@/components/ui/textarea";
import { Field, type FormModel, type FormProps } from "../form";
import { isObject, type Spec } from "../spec";

export type RawValues = { json: string };

/** The spec written as JSON; a mistake in the JSON stops the preview with where it is. */
export function parseSpec(json: string): Spec {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (e) {
    throw new Error(`The spec is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isObject(parsed)) throw new Error("The spec must be a JSON object: { … }");
  return parsed;
}

export const rawForm: FormModel<RawValues> = {
  read: (spec) => ({ json: JSON.stringify(spec ?? {}, null, 2) }),
  write: {
    json: (s, v) => {
      const spec = parseSpec(v);
      for (const k of Object.keys(s)) delete s[k];
      Object.assign(s, spec);
    },
  },
  fields: { json: ["spec"] },
  Form: RawForm,
};

function RawForm({ values, set, errors }: FormProps<RawValues>) {
  return (
    <Field label="Spec (JSON)" hint="the object's spec as JSON; git keeps its YAML, comments and key order" errors={errors.json}>
      {(c) => <Textarea {...c} rows={14} className="font-mono text-xs" value={values.json} onChange={(e) => set({ json: e.target.value })} spellCheck={false} />}
    </Field>
  );
}
