import type { ReactNode } from "react";
import { Pencil, Trash2 } from "lucide-react";

import { Button } from "@/components/ui/button";
import type { ConfigKind } from "./write-back";
import type { FormModel } from "./form";
import type { Spec } from "./spec";
import { DeleteDialog, EditDialog } from "./edit-dialog";

/** "Edit" and "Delete" of one object in git: the pair each list row offers operators. */
export function ObjectActions<V extends object>({
  kind,
  name,
  noun,
  model,
  spec,
  revision,
  description,
}: {
  kind: ConfigKind;
  name: string;
  /** What it is, for the dialogs' titles: "schedule". */
  noun: string;
  model: FormModel<V>;
  spec: Spec | null;
  revision?: string | null;
  description?: ReactNode;
}) {
  const title = `${noun} ${name}`;
  return (
    <>
      <EditDialog
        kind={kind}
        name={name}
        title={title}
        model={model}
        spec={spec}
        revision={revision}
        description={description}
        trigger={
          <Button size="sm" variant="outline" aria-label={`Edit ${name}`}>
            <Pencil aria-hidden /> Edit
          </Button>
        }
      />
      <DeleteDialog
        kind={kind}
        name={name}
        title={title}
        revision={revision}
        trigger={
          <Button size="sm" variant="ghost" aria-label={`Delete ${name}`}>
            <Trash2 aria-hidden />
          </Button>
        }
      />
    </>
  );
}
