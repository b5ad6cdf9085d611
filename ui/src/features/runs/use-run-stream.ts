// A run's events, live: what is written so far in one piece (NDJSON from
// /events: a 100,000-line run in a few large chunks rather than as
// 100,000 WebSocket messages), then the WebSocket from the last seq on; on a
// drop (or a `gap` marker, when this viewer fell behind) it connects again
// with `after=` the last event it has, so no event is lost or shown twice.
// Events arrive in bursts: they are kept in a ref and handed to React at
// most once a frame.
import { useEffect, useRef, useState } from "react";
import { followRun, type RunEvent, type RunStreamMessage } from "@/api/client";

export type Stream = {
  events: RunEvent[];
  /** Live (connected), reconnecting, or done (run.finished arrived). */
  state: "connecting" | "live" | "reconnecting" | "done";
};

/** Reads NDJSON from `body`, handing each line's JSON to `each` as it arrives. */
export async function readLines(body: ReadableStream<Uint8Array>, each: (message: RunStreamMessage) => void, stopped: () => boolean) {
  const reader = body.getReader();
  const text = new TextDecoder();
  let rest = "";
  while (!stopped()) {
    const { done, value } = await reader.read();
    if (done) break;
    const lines = (rest + text.decode(value, { stream: true })).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) if (line) each(JSON.parse(line) as RunStreamMessage);
  }
  if (stopped()) await reader.cancel();
}

/** Takes `message` into `events` (seq order, no doubles); says whether to reconnect (a gap). */
export function take(events: RunEvent[], message: RunStreamMessage): "ok" | "gap" {
  if (message.type === "gap") return "gap";
  const e = message as RunEvent;
  const last = events.length ? events[events.length - 1]!.seq : 0;
  if (e.seq <= last) return "ok";
  if (e.seq !== last + 1) return "gap";
  events.push(e);
  return "ok";
}

export function useRunStream(id: string): Stream {
  const events = useRef<RunEvent[]>([]);
  const [, setVersion] = useState(0);
  const [state, setState] = useState<Stream["state"]>("connecting");

  useEffect(() => {
    events.current = [];
    let socket: WebSocket | null = null;
    let stopped = false;
    let frame = 0;
    let failures = 0;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const finished = () => events.current.at(-1)?.type === "run.finished";
    const render = () => {
      if (!frame) frame = requestAnimationFrame(() => ((frame = 0), setVersion((v) => v + 1)));
    };
    const connect = () => {
      const after = events.current.at(-1)?.seq ?? 0;
      let behind = false;
      socket = followRun(id, (message) => {
        failures = 0;
        // Fell behind (the server skipped events for this viewer): fetch them again at once.
        if (!behind && take(events.current, message) === "gap") (behind = true), socket?.close();
        if (finished()) setState("done");
        render();
      }, after);
      socket.onopen = () => !finished() && setState("live");
      socket.onclose = () => {
        if (stopped || finished()) return;
        if (behind) return connect();
        setState("reconnecting");
        failures += 1;
        retry = setTimeout(connect, Math.min(5000, 250 * 2 ** Math.min(failures, 5)));
      };
    };
    // The replay in one piece; should it fail, the stream replays it instead.
    fetch(`/api/v1/runs/${encodeURIComponent(id)}/events`)
      .then((r) => (r.ok && r.body ? readLines(r.body, (m) => (take(events.current, m), render()), () => stopped) : undefined))
      .catch(() => undefined)
      .finally(() => {
        if (stopped) return;
        render();
        if (finished()) setState("done");
        else connect();
      });
    return () => {
      stopped = true;
      clearTimeout(retry);
      cancelAnimationFrame(frame);
      socket?.close();
    };
  }, [id]);

  return { events: events.current, state };
}
