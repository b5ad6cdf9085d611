// Cursor paging, the same on every list: the API answers a page and the
// cursor of the next (older) one; the pages seen so far are a stack of
// cursors, so "Newer" goes back one.
import { useState } from "react";
import { Button } from "@/components/ui/button";

/** A stack of page cursors: `before` is the current one (undefined: the newest page). */
export function usePages<C>() {
  const [pages, setPages] = useState<(C | undefined)[]>([undefined]);
  return { before: pages.at(-1), pages, setPages, reset: () => setPages([undefined]) };
}

/** "Newer" and "Older" under a list; `next` is the API's cursor of the older page, if there is one. */
export function Pager<C>({ paging, next }: { paging: ReturnType<typeof usePages<C>>; next: C | null | undefined }) {
  const { pages, setPages } = paging;
  return (
    <div className="flex gap-2 p-3">
      {pages.length > 1 && (
        <Button size="sm" variant="outline" onClick={() => setPages(pages.slice(0, -1))}>
          Newer
        </Button>
      )}
      {next != null && (
        <Button size="sm" variant="outline" onClick={() => setPages([...pages, next])}>
          Older
        </Button>
      )}
    </div>
  );
}
