import type { ComponentProps } from "react";
import { cn } from "@/lib/utils";

/** A `<select>` styled like the inputs: the phone's own picker, no portal. */
export function NativeSelect({ className, ...props }: ComponentProps<"select">) {
  return (
    <select
      className={cn(
        "h-9 w-full rounded-md border border-input bg-background px-2 text-sm shadow-sm focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring disabled:opacity-50 aria-invalid:border-bad",
        className,
      )}
      {...props}
    />
  );
}
