// The gateway's API, same origin: a token in sessionStorage, problem+json errors as ApiError.

const TOKEN = "tanhui.token";
const ME = "tanhui.me";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }

  /** The problem's catalogue code ("" when the answer was not a problem document). */
  get code() { return this.problem.code || ""; }

  /** [{field, message, kind?, ctx?}] from a validation error's errors[] (kind: pydantic's error
   * type), or the problem's own field (no kind: the code's sentence is its message). */
  fieldErrors() {
    const p = this.problem;
    if (Array.isArray(p.errors)) return p.errors.filter((e) => e.field);
    return p.field ? [{ field: p.field, message: p.detail }] : [];
  }
}

// The gateway's catalogue of problem types (GET /problems), fetched once per page load: code ->
// {status, title_zh, title_en}. Until it arrives (or if it cannot), errors fall back per status.
let problemTypes = null;
let problemTypesLoading = null;

export function loadProblemTypes() {
  problemTypesLoading ??= fetch("/problems", { headers: { Accept: "application/json" } })
    .then((reply) => (reply.ok ? reply.json() : []))
    .then((rows) => { problemTypes = Object.fromEntries(rows.map((row) => [row.code, row])); })
    .catch(() => { problemTypesLoading = null; }) // offline: try again on the next error
    .then(() => problemTypes);
  return problemTypesLoading;
}

/** The catalogue's entry for `code`, if it is loaded and knows the code. */
export const problemType = (code) => (problemTypes && code ? problemTypes[code] : undefined);

export const auth = {
  get token() { return sessionStorage.getItem(TOKEN); },
  get me() { return JSON.parse(sessionStorage.getItem(ME) || "null"); },
  save(token, me) {
    sessionStorage.setItem(TOKEN, token);
    sessionStorage.setItem(ME, JSON.stringify(me));
  },
  clear() { sessionStorage.removeItem(TOKEN); sessionStorage.removeItem(ME); },
};

/** A fresh id for Idempotency-Key and trip ids (randomUUID only exists in secure contexts). */
export function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Call /api/v1 + path. `json` or `form` is the body; every POST carries a new Idempotency-Key. */
export async function api(path, { method, json, form, anonymous = false } = {}) {
  method = method || (json || form ? "POST" : "GET");
  const headers = { Accept: "application/json, application/problem+json" };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = new URLSearchParams(form);
  }
  if (method !== "GET") headers["Idempotency-Key"] = newId();
  if (!anonymous && auth.token) headers.Authorization = `Bearer ${auth.token}`;
  let reply;
  try {
    reply = await fetch(`/api/v1${path}`, { method, headers, body });
  } catch (err) {
    throw new ApiError(0, { detail: String(err.message || err) });
  }
  const text = await reply.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  if (!reply.ok) {
    if (reply.status === 401 && !anonymous && auth.token) {
      auth.clear(); // expired or revoked: back to the login page after showing the error
      setTimeout(() => { location.hash = "#/login"; }, 1500);
    }
    throw new ApiError(reply.status, data);
  }
  return data;
}

/** Log in: the token, then /me for the role. */
export async function login(username, password) {
  const token = await api("/auth/token", { form: { username, password }, anonymous: true });
  sessionStorage.setItem(TOKEN, token.access_token);
  const me = await api("/me");
  auth.save(token.access_token, me);
  return me;
}

/** Retry a read until `done(result)`: events cross services asynchronously. */
export async function poll(read, done, { everyMs = 1000, tries = 90 } = {}) {
  let result = await read();
  for (let n = 1; n < tries && !done(result); n++) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    result = await read();
  }
  return result;
}
