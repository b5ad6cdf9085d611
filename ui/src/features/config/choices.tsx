// Choosing among names (agents, nodes): a box each, so a phone needs no
// multi-select; and one-of choices as radio buttons.
import { useId } from "react";
import { Checkbox } from "@/components/ui/checkbox";
import type { FieldError } from "./field-errors";
import { FieldGroup } from "./form";

/** Ticks names in or out; names chosen that are not offered (any more) stay listed, so none drops silently. */
export function CheckList({
  legend,
  hint,
  options,
  selected,
  onChange,
  errors,
}: {
  legend: string;
  hint?: string;
  options: string[];
  selected: string[];
  onChange: (names: string[]) => void;
  errors?: FieldError[];
}) {
  const id = useId();
  const all = [...new Set([...options, ...selected])];
  return (
    <FieldGroup legend={legend} hint={hint} errors={errors}>
      {all.length === 0 && <p className="text-sm text-muted-foreground">None to choose from.</p>}
      <div className="flex flex-wrap gap-x-4 gap-y-2">
        {all.map((name, i) => (
          <span key={name} className="flex items-center gap-2 text-sm">
            <Checkbox
              id={`${id}-${i}`}
              checked={selected.includes(name)}
              onCheckedChange={(on) => onChange(on === true ? [...selected, name] : selected.filter((n) => n !== name))}
            />
            <label htmlFor={`${id}-${i}`}>{name}</label>
          </span>
        ))}
      </div>
    </FieldGroup>
  );
}

/** One of a few values, as radio buttons. */
export function RadioChoice<T extends string>({
  legend,
  value,
  options,
  onChange,
  errors,
}: {
  legend: string;
  value: T;
  options: { value: T; label: string }[];
  onChange: (v: T) => void;
  errors?: FieldError[];
}) {
  const name = useId();
  return (
    <FieldGroup legend={legend} errors={errors}>
      <div className="flex flex-wrap gap-x-4 gap-y-2">
        {options.map((o) => (
          <label key={o.value} className="flex items-center gap-2 text-sm">
            <input type="radio" name={name} className="size-4 accent-primary" checked={value === o.value} onChange={() => onChange(o.value)} />
            {o.label}
          </label>
        ))}
      </div>
    </FieldGroup>
  );
}
