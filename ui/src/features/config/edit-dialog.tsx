// Edit, then preview, then confirm: the one way the dashboard changes git.
// The dialog keeps the spec and revision it opened with; "Preview" sends
// the spec the form makes to the preview endpoint and shows the diff and
// the plan; "Commit" sends that same spec with a message and shows the
// commit, or the pull request opened for it: the user may choose where the
// commit goes ("Server default" sends no `mode`, and the server's setting
// decides). Errors of the edit (422) go next to the fields they name, the
// rest in a list with file:line; a conflict (409) shows both versions and
// starts again from the upstream one, the user's changes made again on it.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { ExternalLink, GitCommitHorizontal, GitPullRequest, RotateCcw, Trash2 } from "lucide-react";
import { useEffect, useRef, useState, type ReactElement, type ReactNode } from "react";
import type { Schemas } from "@/api/client";
import { Failure } from "@/components/layout/state";
import { Alert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Dialog, DialogClose, DialogContent, DialogDescription, DialogFooter, DialogHeader, DialogTitle, DialogTrigger } from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { webUrl } from "@/features/sync/source-link";
import { NativeSelect } from "@/components/ui/native-select";
import { type FieldError, placeErrors } from "./field-errors";
import { buildSpec, Field, type FormModel, managedPaths } from "./form";
import { nameProblem } from "./names";
import { DiffView, PlanView, ProblemList, shown } from "./review";
import { changedFields, rebaseValues, type Spec, unseenRemovals, withKept } from "./spec";
import {
  changesQuery,
  commit,
  type ConfigKind,
  type Conflict,
  type Edit,
  type EditOutcome,
  type EditResult,
  headRevision,
  KEYS_OF,
  KIND_OF,
  preview,
  type WriteMode,
} from "./write-back";

type FieldChange = Schemas["FieldChange"];
/** Where the commit goes: "" leaves it to the server. */
type ModeChoice = WriteMode | "";

type Stage =
  | { step: "edit" }
  | { step: "review"; result: EditResult; spec: Spec | null }
  | { step: "done"; result: EditResult }
  | { step: "conflict"; conflict: Conflict; message: string };

/** Previews and commits an edit at the revision it was made against; the same revision for both. */
function useWriteBack(kind: ConfigKind, name: string) {
  const queryClient = useQueryClient();
  const [revision, setRevision] = useState<string | null>(null);
  /** The page's queries load again: the sync's revision, the kind's lists, and the proposed changes. */
  const refresh = () => {
    for (const key of ["sync", ...KEYS_OF[kind]]) void queryClient.invalidateQueries({ queryKey: [key] });
    void queryClient.invalidateQueries({ queryKey: changesQuery.queryKey });
  };
  const run = useMutation({
    mutationFn: async ({ action, spec, message, base, mode }: { action: "preview" | "commit"; spec: Spec | null; message: string; base: string | null; mode: ModeChoice }) => {
      const base_revision = base ?? (await headRevision(queryClient));
      setRevision(base_revision);
      const edit: Edit = { kind, name, spec, base_revision, message: message.trim() || undefined, mode: mode || undefined };
      return action === "preview" ? preview(edit) : commit(edit);
    },
    onSuccess: (o, { action }) => {
      if ((action === "commit" && o.outcome === "ok") || o.outcome === "conflict") refresh();
    },
  });
  return { run, revision, setRevision };
}

/** The shared parts of both dialogs' answers: a stage for each outcome. */
function next(o: EditOutcome, action: "preview" | "commit", spec: Spec | null): { stage: Stage; errors: FieldError[] } {
  if (o.outcome === "invalid") return { stage: { step: "edit" }, errors: o.errors };
  if (o.outcome === "conflict") return { stage: { step: "conflict", conflict: o.conflict, message: o.message }, errors: [] };
  return { stage: action === "preview" ? { step: "review", result: o.result, spec } : { step: "done", result: o.result }, errors: [] };
}

export type EditDialogProps<V extends object> = {
  kind: ConfigKind;
  /** The object's name; with `nameField`, the name the field starts with. */
  name: string;
  /**
   * The user types the name (a new object): a field above the form, checked
   * as the server checks it (and against `taken`, the names already used);
   * Preview waits for a valid one.
   */
  nameField?: { taken?: readonly string[] };
  /** What is edited, for the title: "schedule nightly". */
  title: string;
  model: FormModel<V>;
  /** The spec as git has it; null for a new object. */
  spec: Spec | null;
  /** The revision `spec` was read at; default: the head of the config branch when previewing. */
  revision?: string | null;
  /** The object is not in git yet. */
  creating?: boolean;
  /** Changes the form starts with ("Pause in git" starts with enabled off). */
  start?: Partial<V>;
  /** The commit message the dialog starts with. */
  message?: string;
  /** The button that opens it. */
  trigger: ReactElement;
  description?: ReactNode;
};

type Snapshot<V> = { spec: Spec | null; before: V; creating: boolean };

/** The name field's own key among the form's fields, for the server's errors of `metadata.name`. */
const NAME_KEY = "metadata.name";

export function EditDialog<V extends object>(props: EditDialogProps<V>) {
  const { kind, model, nameField } = props;
  const [open, setOpen] = useState(false);
  const [typed, setTyped] = useState(props.name);
  const name = nameField ? typed : props.name;
  const [snap, setSnap] = useState<Snapshot<V> | null>(null);
  const [values, setValues] = useState<V | null>(null);
  const [stage, setStage] = useState<Stage>({ step: "edit" });
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [kept, setKept] = useState<FieldChange[]>([]);
  const [message, setMessage] = useState("");
  const [mode, setMode] = useState<ModeChoice>("");
  /** A value the form cannot make a spec of (JSON that does not parse): said before anything is sent. */
  const [local, setLocal] = useState<Error | null>(null);
  const { run, revision, setRevision } = useWriteBack(kind, name);
  const formRef = useRef<HTMLFormElement>(null);
  // After a refusal, the first field it names has the focus (or the list of the others comes into view).
  useEffect(() => {
    const form = formRef.current;
    if (!form || errors.length === 0) return;
    const field = form.querySelector<HTMLElement>('[aria-invalid="true"]');
    if (field) field.focus();
    else form.querySelector<HTMLElement>("[data-testid=edit-errors]")?.scrollIntoView?.({ block: "nearest" });
  }, [errors]);

  const onOpenChange = (o: boolean) => {
    setOpen(o);
    run.reset();
    setStage({ step: "edit" });
    setErrors([]);
    setKept([]);
    setLocal(null);
    if (!o) {
      // Nothing typed (a secret's value above all) outlives the dialog.
      setValues(null);
      setSnap(null);
      return;
    }
    setTyped(props.name);
    const before = model.read(props.spec, props.name);
    setSnap({ spec: props.spec, before, creating: !!props.creating });
    setValues({ ...before, ...props.start });
    setRevision(props.revision ?? null);
    setMessage(props.message ?? "");
    setMode("");
  };

  const send = (action: "preview" | "commit", spec: Spec | null) =>
    run.mutate(
      { action, spec, message, base: revision, mode },
      {
        onSuccess: (o) => {
          const { stage, errors } = next(o, action, spec);
          setStage(stage);
          setErrors(errors);
          // A secret's typed value is gone once it is stored.
          if (stage.step === "done") setValues(snap?.before ?? null);
        },
      },
    );
  /** A new name: the values the user has not changed follow it (a channel's `<name>-token`), the rest stay. */
  const rename = (to: string) => {
    setTyped(to);
    if (!snap || !values) return;
    const now = model.read(snap.spec, to);
    setValues(rebaseValues(snap.before, values, now));
    setSnap({ ...snap, before: now });
  };
  const badName = nameField ? nameProblem(name, nameField.taken) : null;

  const previewWith = (more: FieldChange[]) => {
    if (!snap || !values || badName) return;
    let spec: Spec;
    try {
      spec = withKept(buildSpec(model, snap.spec, snap.before, values, name), more);
    } catch (e) {
      return setLocal(e instanceof Error ? e : new Error(String(e)));
    }
    setLocal(null);
    send("preview", spec);
  };

  /** After a conflict: the upstream spec at the new head, with the user's changes made again on it. */
  const editAgain = (c: Conflict) => {
    if (!snap || !values) return;
    const theirs = c.theirs && typeof c.theirs === "object" ? (c.theirs as Spec) : null;
    const now = model.read(theirs, name);
    setValues(rebaseValues(snap.before, values, now));
    setSnap({ spec: theirs, before: now, creating: theirs === null });
    setRevision(c.head_revision);
    setKept([]);
    setErrors([]);
    setStage({ step: "edit" });
    run.reset();
  };

  // (Keyed by string: the form's fields and, when it is typed, the name.)
  const placed = placeErrors<string>(errors, { ...model.fields, ...(nameField && { [NAME_KEY]: [NAME_KEY] }) });
  // Said once something is typed: an empty field on opening is not a mistake yet.
  const nameErrors = [...(badName && name ? [{ message: badName, file: "", line: 0, column: 0 }] : []), ...(placed.byField[NAME_KEY] ?? [])];
  const Form = model.Form;
  const creating = snap?.creating ?? !!props.creating;
  const unseen =
    stage.step === "review" ? unseenRemovals(stage.result.plan, KIND_OF[kind], name, managedPaths(model)) : [];

  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogTrigger asChild>{props.trigger}</DialogTrigger>
      {/* A tap beside the dialog on a phone should not lose the edit: Cancel, Close or Escape do. */}
      <DialogContent onInteractOutside={(e) => e.preventDefault()}>
        <DialogHeader>
          <DialogTitle>
            {creating ? "Add" : "Edit"} {props.title}
          </DialogTitle>
          <DialogDescription>
            {props.description ?? "Each change is a commit to the config repository by you (or a pull request); the sync then applies it."}
          </DialogDescription>
        </DialogHeader>
        {run.error && <Failure error={run.error} />}
        {local && stage.step === "edit" && <Failure error={local} />}
        {stage.step === "edit" && values && (
          <form
            ref={formRef}
            className="flex flex-col gap-4"
            onSubmit={(e) => {
              e.preventDefault();
              previewWith(kept);
            }}
          >
            {nameField && (
              <Field label="Name" hint="lowercase letters, digits and '-'; also the file's name in git" errors={nameErrors}>
                {(c) => (
                  <Input
                    {...c}
                    className="font-mono"
                    value={name}
                    onChange={(e) => rename(e.target.value)}
                    autoComplete="off"
                    spellCheck={false}
                    autoCapitalize="none"
                    required
                  />
                )}
              </Field>
            )}
            <Form values={values} set={(patch) => setValues((v) => v && { ...v, ...patch })} errors={placed.byField} name={name} spec={snap?.spec ?? null} creating={creating} />
            {placed.rest.length > 0 && (
              <Alert tone="bad">
                <p className="mb-1 font-medium">The edit leaves the config invalid; nothing was written.</p>
                <ProblemList problems={placed.rest} />
              </Alert>
            )}
            {kept.length > 0 && <Kept kept={kept} />}
            <DialogFooter>
              <DialogClose asChild>
                <Button type="button" variant="outline">
                  Cancel
                </Button>
              </DialogClose>
              <Button type="submit" disabled={run.isPending || !!badName}>
                {run.isPending ? "Previewing…" : "Preview"}
              </Button>
            </DialogFooter>
          </form>
        )}
        {stage.step === "review" && (
          <form
            className="flex flex-col gap-4"
            onSubmit={(e) => {
              e.preventDefault();
              send("commit", stage.spec);
            }}
          >
            <Review result={stage.result} />
            {unseen.length > 0 && (
              <Alert tone="bad" data-testid="unseen-removals">
                <p className="font-medium">This edit removes fields the form does not show:</p>
                <ul className="my-1 font-mono text-xs">
                  {unseen.map((f) => (
                    <li key={f.path} className="break-all">
                      {f.path}: {shown(f.old)}
                    </li>
                  ))}
                </ul>
                <Button type="button" size="sm" variant="outline" onClick={() => (setKept([...kept, ...unseen]), previewWith([...kept, ...unseen]))}>
                  Keep them
                </Button>
              </Alert>
            )}
            <MessageInput value={message} onChange={setMessage} />
            <ModeSelect value={mode} onChange={setMode} />
            <DialogFooter>
              <Button type="button" variant="outline" onClick={() => setStage({ step: "edit" })}>
                Back to the form
              </Button>
              <CommitButton mode={mode} pending={run.isPending} disabled={run.isPending || !stage.result.diff} />
            </DialogFooter>
          </form>
        )}
        {stage.step === "conflict" && <ConflictPanel conflict={stage.conflict} message={stage.message} onEditAgain={() => editAgain(stage.conflict)} again="Reload and edit again" />}
        {stage.step === "done" && <Done result={stage.result} />}
      </DialogContent>
    </Dialog>
  );
}

/** Removing an object from git: the preview of its removal at once, then a confirmation. */
export function DeleteDialog({ kind, name, title, revision, trigger }: { kind: ConfigKind; name: string; title: string; revision?: string | null; trigger: ReactElement }) {
  const [open, setOpen] = useState(false);
  const [stage, setStage] = useState<Stage>({ step: "edit" });
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [message, setMessage] = useState("");
  const [mode, setMode] = useState<ModeChoice>("");
  const { run, revision: base, setRevision } = useWriteBack(kind, name);
  const send = (action: "preview" | "commit", base: string | null) =>
    run.mutate(
      { action, spec: null, message, base, mode },
      {
        onSuccess: (o) => {
          const { stage, errors } = next(o, action, null);
          setStage(stage);
          setErrors(o.outcome === "invalid" ? o.errors : errors);
        },
      },
    );
  const onOpenChange = (o: boolean) => {
    setOpen(o);
    run.reset();
    setStage({ step: "edit" });
    setErrors([]);
    setMessage(`Remove ${title}`);
    setMode("");
    setRevision(revision ?? null);
    if (o) send("preview", revision ?? null);
  };
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogTrigger asChild>{trigger}</DialogTrigger>
      <DialogContent>
        <DialogHeader>
          <DialogTitle>Delete {title}</DialogTitle>
          <DialogDescription>Removes it from the config repository in a commit by you; the sync then removes it live.</DialogDescription>
        </DialogHeader>
        {run.error && <Failure error={run.error} />}
        {run.isPending && stage.step === "edit" && <p className="text-sm text-muted-foreground">Working out what the removal does…</p>}
        {errors.length > 0 && (
          <Alert tone="bad">
            <p className="mb-1 font-medium">It cannot go: the config would be invalid without it.</p>
            <ProblemList problems={errors} />
          </Alert>
        )}
        {stage.step === "review" && (
          <form
            className="flex flex-col gap-4"
            onSubmit={(e) => {
              e.preventDefault();
              send("commit", base);
            }}
          >
            <Review result={stage.result} />
            <MessageInput value={message} onChange={setMessage} />
            <ModeSelect value={mode} onChange={setMode} />
            <DialogFooter>
              <DialogClose asChild>
                <Button type="button" variant="outline">
                  Cancel
                </Button>
              </DialogClose>
              <Button type="submit" variant="destructive" disabled={run.isPending}>
                {mode === "pull-request" ? <GitPullRequest aria-hidden /> : <Trash2 aria-hidden />}
                {mode === "pull-request" ? (run.isPending ? "Opening…" : "Propose the deletion") : run.isPending ? "Deleting…" : "Delete from git"}
              </Button>
            </DialogFooter>
          </form>
        )}
        {stage.step === "conflict" && (
          <ConflictPanel
            conflict={stage.conflict}
            message={stage.message}
            again="Reload and preview again"
            onEditAgain={() => (setRevision(stage.conflict.head_revision), setStage({ step: "edit" }), send("preview", stage.conflict.head_revision))}
          />
        )}
        {stage.step === "done" && <Done result={stage.result} />}
        {stage.step === "edit" && !run.isPending && (
          <DialogFooter>
            <DialogClose asChild>
              <Button type="button" variant="outline">
                Close
              </Button>
            </DialogClose>
          </DialogFooter>
        )}
      </DialogContent>
    </Dialog>
  );
}

function Review({ result }: { result: EditResult }) {
  return (
    <>
      <section className="flex min-w-0 flex-col gap-2" aria-label="The change to the file">
        <h3 className="text-sm font-medium">
          Change to <span className="font-mono text-xs">{result.file}</span>
        </h3>
        <DiffView diff={result.diff} />
      </section>
      <section className="flex min-w-0 flex-col gap-2" aria-label="What the sync will do">
        <h3 className="text-sm font-medium">What the sync will do</h3>
        <PlanView plan={result.plan} />
      </section>
      {result.warnings.length > 0 && (
        <Alert>
          <p className="mb-1 font-medium">Warnings (the edit is still valid)</p>
          <ProblemList problems={result.warnings} tone="warn" />
        </Alert>
      )}
      {result.rebased && <p className="text-xs text-muted-foreground">The branch moved since this page loaded; the edit goes onto its new head, where this object is unchanged.</p>}
    </>
  );
}

function MessageInput({ value, onChange }: { value: string; onChange: (v: string) => void }) {
  return (
    <div className="flex flex-col gap-1.5">
      <Label htmlFor="commit-message">Commit message</Label>
      <Input id="commit-message" value={value} onChange={(e) => onChange(e.target.value)} placeholder="Why (optional: the server says what changed)" autoComplete="off" />
    </div>
  );
}

/** Where the commit goes: left to the server (no `mode` sent), onto the config branch, or a pull request. */
function ModeSelect({ value, onChange }: { value: ModeChoice; onChange: (v: ModeChoice) => void }) {
  return (
    <div className="flex flex-col gap-1.5">
      <Label htmlFor="write-mode">Where it goes</Label>
      <NativeSelect id="write-mode" value={value} onChange={(e) => onChange(e.target.value as ModeChoice)} aria-describedby="write-mode-hint">
        <option value="">Server default</option>
        <option value="commit">Commit to the branch</option>
        <option value="pull-request">Open a pull request</option>
      </NativeSelect>
      <p id="write-mode-hint" className="text-xs text-muted-foreground">
        A pull request is applied once it is merged; the Sync page lists it until then.
      </p>
    </div>
  );
}

function CommitButton({ mode, pending, disabled }: { mode: ModeChoice; pending: boolean; disabled: boolean }) {
  return mode === "pull-request" ? (
    <Button type="submit" disabled={disabled}>
      <GitPullRequest aria-hidden />
      {pending ? "Opening…" : "Open pull request"}
    </Button>
  ) : (
    <Button type="submit" disabled={disabled}>
      <GitCommitHorizontal aria-hidden />
      {pending ? "Committing…" : "Commit"}
    </Button>
  );
}

function Kept({ kept }: { kept: FieldChange[] }) {
  return (
    <p className="text-xs text-muted-foreground">
      Kept as in git: <span className="font-mono">{kept.map((f) => f.path).join(", ")}</span>
    </p>
  );
}

function Done({ result }: { result: EditResult }) {
  return (
    <div className="flex flex-col gap-3" role="status" data-testid="edit-done">
      {result.pull_request ? (
        <Alert tone="ok">
          <p className="font-medium">
            <a href={webUrl(result.pull_request.url) ?? undefined} target="_blank" rel="noopener noreferrer" className="inline-flex items-center gap-1 underline underline-offset-2">
              Pull request #{result.pull_request.number}
              <ExternalLink className="size-3.5" aria-hidden />
            </a>{" "}
            opened
          </p>
          <p className="mt-1 text-muted-foreground">
            From the branch <span className="font-mono text-xs">{result.pull_request.branch}</span>, for{" "}
            <span className="font-mono text-xs">{result.file}</span>. The sync applies it once it is merged; until then the Sync page lists it under proposed
            changes.
          </p>
        </Alert>
      ) : result.commit ? (
        <Alert tone="ok">
          <p className="font-medium">
            Committed <span className="font-mono">{short(result.commit)}</span> to <span className="font-mono text-xs">{result.file}</span>.
          </p>
          <p className="mt-1 text-muted-foreground">The sync applies it shortly; this page updates when it has.</p>
        </Alert>
      ) : (
        <Alert>Nothing changed, so nothing was committed.</Alert>
      )}
      <DialogFooter>
        <DialogClose asChild>
          <Button type="button">Close</Button>
        </DialogClose>
      </DialogFooter>
    </div>
  );
}

/** A git commit's first 7 hex digits; other revisions (a local folder's `local-…`) whole. */
const short = (id: string) => (/^[0-9a-f]{40}$/.test(id) ? id.slice(0, 7) : id);

const json = (v: unknown) => (v === undefined || v === null ? "(none)" : JSON.stringify(v, null, 2));

/** What one side of a conflict changed since the revision the edit was made against. */
function Changes({ who, base, spec }: { who: string; base: unknown; spec: unknown }) {
  const fields = spec == null ? null : changedFields(base ?? {}, spec);
  return (
    <section className="min-w-0">
      <h3 className="mb-1 font-medium">{who}</h3>
      {fields === null ? (
        <p className="text-muted-foreground">removed it</p>
      ) : fields.length === 0 ? (
        <p className="text-muted-foreground">nothing</p>
      ) : (
        <ul className="font-mono text-xs">
          {fields.map((f) => (
            <li key={f.path} className="break-all">
              {f.path}: <span className="text-bad">{shown(f.old)}</span> -&gt; <span className="text-ok">{shown(f.new)}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** Both versions of an object that changed upstream, who changed it, and a way to start again from theirs. */
export function ConflictPanel({ conflict: c, message, onEditAgain, again }: { conflict: Conflict; message: string; onEditAgain: () => void; again: string }) {
  return (
    <div className="flex flex-col gap-3" data-testid="edit-conflict">
      <Alert tone="bad">
        <p className="font-medium">
          {c.kind} {c.name} changed upstream; nothing was written.
        </p>
        <p className="mt-1 text-muted-foreground">{message}</p>
        <p className="mt-1">
          <span className="font-mono text-xs">{short(c.head_revision)}</span>
          {c.head_author && <> by {c.head_author}</>}
          {c.head_message && <>: {c.head_message.split("\n")[0]}</>}
        </p>
      </Alert>
      <div className="grid min-w-0 gap-3 text-sm md:grid-cols-2">
        <Changes who="You changed" base={c.base} spec={c.yours} />
        <Changes who="They changed" base={c.base} spec={c.theirs} />
      </div>
      <div className="grid min-w-0 gap-3 md:grid-cols-2">
        <section className="min-w-0" aria-label="Your version">
          <h3 className="mb-1 text-sm font-medium">Yours</h3>
          <pre tabIndex={0} className="max-h-64 overflow-auto rounded-md border bg-background p-2 text-xs">{json(c.yours)}</pre>
        </section>
        <section className="min-w-0" aria-label="Their version">
          <h3 className="mb-1 text-sm font-medium">Theirs (now in git)</h3>
          <pre tabIndex={0} className="max-h-64 overflow-auto rounded-md border bg-background p-2 text-xs">{json(c.theirs)}</pre>
        </section>
      </div>
      <DialogFooter>
        <DialogClose asChild>
          <Button type="button" variant="outline">
            Close
          </Button>
        </DialogClose>
        <Button type="button" onClick={onEditAgain}>
          <RotateCcw aria-hidden /> {again}
        </Button>
      </DialogFooter>
    </div>
  );
}
