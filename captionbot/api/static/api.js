// The API as the page uses it: the key kept for this tab, and the answers it reads.
const KEY_STORAGE = "captionbot-api-key";

export const key = {
  get: () => sessionStorage.getItem(KEY_STORAGE) || "",
  set: (value) => sessionStorage.setItem(KEY_STORAGE, value),
  forget: () => sessionStorage.removeItem(KEY_STORAGE),
};

function authHeaders() {
  const value = key.get();
  return value ? { Authorization: `Bearer ${value}` } : {};
}

// A refusal as {status, code, detail, retryAfter}: the problem's own sentence where it has one.
export async function problemOf(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // not a problem document (a proxy's page): the status line says what there is to say
  }
  return {
    status: response.status,
    code: body.code || "http_" + response.status,
    detail: body.detail || response.statusText,
    retryAfter: Number(response.headers.get("Retry-After")) || 0,
  };
}

export const fetchModels = () => fetch("/v1/models", { headers: authHeaders() });

export const fetchSamples = () => fetch("/v1/samples");

export const postCaption = (data, signal) =>
  fetch("/v1/captions", { method: "POST", headers: authHeaders(), body: data, signal });

// "ok", "no_worker" or "unreachable", from /healthz (which needs no key).
export async function health() {
  try {
    const response = await fetch("/healthz", { cache: "no-store" });
    const body = await response.json();
    return body.checks && body.checks.workers && body.checks.workers.ok ? "ok" : "no_worker";
  } catch {
    return "unreachable";
  }
}
