// "New schedule", "New channel", …: the edit dialog for an object that is
// not in git yet, its name typed by the user. The server's PUT creates it
// (`<name>.yaml` in the folder where objects of its kind live).
import { Plus } from "lucide-react";
import type { ReactNode } from "react";
import { Button } from "@/components/ui/button";
import { EditDialog } from "./edit-dialog";
import type { FormModel } from "./form";
import type { ConfigKind } from "./write-back";

export function NewObjectDialog<V extends object>({
  kind,
  noun,
  model,
  start,
  taken,
  description,
}: {
  kind: ConfigKind;
  /** What it is, for the button and the title: "schedule". */
  noun: string;
  model: FormModel<V>;
  /** The values the form starts with, over those of an empty spec. */
  start?: Partial<V>;
  /** The names objects of this kind already have: a new one cannot take them. */
  taken?: readonly string[];
  description?: ReactNode;
}) {
  return (
    <EditDialog
      kind={kind}
      name=""
      nameField={{ taken }}
      title={noun}
      model={model}
      spec={null}
      creating
      start={start}
      description={description ?? `A commit adding the ${noun} to the config repository (or a pull request); the sync then applies it.`}
      trigger={
        <Button size="sm" variant="outline">
          <Plus aria-hidden /> New {noun}
        </Button>
      }
    />
  );
}

/** A new trigger's spec, as JSON to edit: a secret to check the calls with, what to start, and where. */
export const NEW_TRIGGER = JSON.stringify({ secret: { env: "MY_HOOK_SECRET" }, agents: [], nodes: "all" }, null, 2);

/** A new notification rule's spec, as JSON to edit: which events go to which channels. */
export const NEW_RULE = JSON.stringify({ events: ["run.failed"], channels: [] }, null, 2);
