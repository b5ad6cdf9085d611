// What a form of the edit dialog is: how it reads its values from a spec,
// how each value goes back in, which spec paths each field shows (for the
// server's errors), and how it looks. Plus the labelled field that shows
// its errors beside it.
import { useId, type ComponentType, type ReactNode } from "react";
import { Label } from "@/components/ui/label";
import { cn } from "@/lib/utils";
import type { FieldError, FieldPaths } from "./field-errors";
import { type Spec, type Writers, writeChanged } from "./spec";

export type FormProps<V> = {
  values: V;
  set: (patch: Partial<V>) => void;
  /** The server's errors, by the field that shows them. */
  errors: Partial<Record<keyof V & string, FieldError[]>>;
  /** The object's name. */
  name: string;
  /** The spec the form started from (null: a new object, or one the dashboard cannot read). */
  spec: Spec | null;
  /** The object is not in git yet. */
  creating: boolean;
};

export type FormModel<V extends object> = {
  /** The form's values from the spec as written (null: a new object). */
  read: (spec: Spec | null, name: string) => V;
  /** How each value goes into the spec. */
  write: Writers<V>;
  /** Written into every spec sent, after the changed values: what the dashboard cannot read back (a secret reference). */
  always?: (spec: Spec, values: V, name: string) => void;
  /** The spec paths each field shows; a path no field shows that an edit would remove is pointed out. */
  fields: FieldPaths<keyof V & string>;
  Form: ComponentType<FormProps<V>>;
};

/**
 * The spec an edit sends: the current spec, the values the user changed, and
 * what is always written. A new object (no current spec) has nothing to keep:
 * every value is written.
 */
export function buildSpec<V extends object>(model: FormModel<V>, current: Spec | null, before: V, after: V, name: string): Spec {
  const spec = writeChanged(current, current === null ? ({} as V) : before, after, model.write);
  model.always?.(spec, after, name);
  return spec;
}

/** Every spec path a form shows. */
export const managedPaths = <V extends object>(model: FormModel<V>) => Object.values<string[] | undefined>(model.fields).flatMap((p) => p ?? []);

type Control = { id: string; "aria-invalid": true | undefined; "aria-describedby": string | undefined };

/** A labelled control, its hint, and the server's errors for it. */
export function Field({
  label,
  hint,
  errors,
  className,
  children,
}: {
  label: string;
  hint?: ReactNode;
  errors?: FieldError[];
  className?: string;
  children: (control: Control) => ReactNode;
}) {
  const id = useId();
  const bad = errors && errors.length > 0;
  const described = [hint ? `${id}-hint` : "", bad ? `${id}-errors` : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div className={cn("flex min-w-0 flex-col gap-1.5", className)}>
      <Label htmlFor={id}>{label}</Label>
      {children({ id, "aria-invalid": bad || undefined, "aria-describedby": described })}
      {hint && (
        <p id={`${id}-hint`} className="text-xs text-muted-foreground">
          {hint}
        </p>
      )}
      <FieldErrors id={`${id}-errors`} errors={errors} />
    </div>
  );
}

/** A group of controls (checkboxes, radios) under one legend, with its errors. */
export function FieldGroup({ legend, hint, errors, children }: { legend: string; hint?: ReactNode; errors?: FieldError[]; children: ReactNode }) {
  const id = useId();
  return (
    <fieldset className="flex min-w-0 flex-col gap-1.5" aria-describedby={errors?.length ? `${id}-errors` : undefined}>
      <legend className="mb-1.5 text-sm font-medium leading-none">{legend}</legend>
      {children}
      {hint && <p className="text-xs text-muted-foreground">{hint}</p>}
      <FieldErrors id={`${id}-errors`} errors={errors} />
    </fieldset>
  );
}

function FieldErrors({ id, errors }: { id: string; errors?: FieldError[] }) {
  if (!errors?.length) return null;
  return (
    <ul id={id} className="flex flex-col gap-0.5 text-xs text-bad" data-testid="field-error">
      {errors.map((e, i) => (
        <li key={i}>
          {e.message}
          {e.hint && <span className="text-muted-foreground"> ({e.hint})</span>}
        </li>
      ))}
    </ul>
  );
}
