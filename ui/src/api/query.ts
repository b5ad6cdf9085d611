// The dashboard's side of the API: one client on its own origin (the
// session cookie goes along), and answers turned into data or an ApiFailure
// that carries the server's message and hint for the page to show.
import { apiClient, type ApiError } from "./client";

export const api = apiClient();

/** A refused or failed call: the server's words (`message`, `hint`) and the HTTP status. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly hint: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** The data of an openapi-fetch answer, or an ApiFailure with what the server said. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let answer;
  try {
    answer = await call;
  } catch (e) {
    throw new ApiFailure(0, "the server cannot be reached", "check that car-server is running; this page retries", "network");
  }
  const { data, error, response } = answer;
  if (response.ok) return data as T;
  const body = (error ?? {}) as Partial<ApiError>;
  const detail = body.error;
  throw new ApiFailure(
    response.status,
    detail?.message ?? `the server answered ${response.status} ${response.statusText}`,
    detail?.hint ?? "",
    detail?.code ?? "http",
  );
}
