// REST client for the chatactors API (docs/API.md). Same origin, JSON in and out.

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
  }
  /**
   * Worth retrying automatically? (network trouble, overload, rate limit, and 504 "outcome
   * unknown": safe because every attempt of a send carries the same client_message_id)
   */
  get transient() {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

const enc = encodeURIComponent;

// With access control on, every request carries `Authorization: Bearer <token>`.
let authToken = null;
export function setAuthToken(token) {
  authToken = token || null;
}
export const getAuthToken = () => authToken;

async function request(method, path, { body, query, timeoutMs = 15000 } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null) url.searchParams.set(k, v);
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: {
        ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
        ...(authToken ? { Authorization: `Bearer ${authToken}` } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: controller.signal,
      cache: "no-store",
    });
  } catch (err) {
    throw new ApiError(0, controller.signal.aborted ? "The server took too long to answer" : "Network error");
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const detail = data && typeof data === "object" ? data.detail : null;
    throw new ApiError(response.status, typeof detail === "string" ? detail : `HTTP ${response.status}`);
  }
  return data;
}

// The reads of a chat name who reads (`?user_id=`), so a member removed from it is refused (403).
export const api = {
  listChats: (userId) => request("GET", "/chats", { query: { user_id: userId } }),
  /** `title` (null: none) and `group` (a group even of two) are the server's extensions. */
  createChat: (participants, { userId, title = null, group = false } = {}) =>
    request("POST", "/chats", {
      body: { participants, ...(userId ? { user_id: userId } : {}), ...(title ? { title } : {}), ...(group ? { group: true } : {}) },
    }),
  getChat: (chatId, userId) => request("GET", `/chats/${enc(chatId)}`, { query: { user_id: userId } }),
  messages: (chatId, { beforeSeq, afterSeq, limit, userId } = {}) =>
    request("GET", `/chats/${enc(chatId)}/messages`, {
      query: { before_seq: beforeSeq, after_seq: afterSeq, limit, user_id: userId },
    }),
  send: (chatId, message) => request("POST", `/chats/${enc(chatId)}/messages`, { body: message }),
  setPresence: (chatId, userId, status) =>
    request("POST", `/chats/${enc(chatId)}/presence`, { body: { user_id: userId, status } }),
  presence: (chatId, userId) => request("GET", `/chats/${enc(chatId)}/presence`, { query: { user_id: userId } }),
  markRead: (chatId, userId) => request("POST", `/chats/${enc(chatId)}/read`, { body: { user_id: userId } }),
  reads: (chatId, userId) => request("GET", `/chats/${enc(chatId)}/read`, { query: { user_id: userId } }),
  // Changes to the chat itself: each answers {status, chat, message} (the system message, or null).
  renameChat: (chatId, userId, title) =>
    request("PATCH", `/chats/${enc(chatId)}`, { body: { user_id: userId, title } }),
  addParticipants: (chatId, userId, participants) =>
    request("POST", `/chats/${enc(chatId)}/participants`, { body: { user_id: userId, participants } }),
  /** `member` = `userId`: leaving. */
  removeParticipant: (chatId, member, userId) =>
    request("DELETE", `/chats/${enc(chatId)}/participants/${enc(member)}`, { query: { user_id: userId } }),
  editMessage: (chatId, id, userId, content) =>
    request("PATCH", `/chats/${enc(chatId)}/messages/${enc(id)}`, { body: { user_id: userId, content } }),
  deleteMessage: (chatId, id, userId) =>
    request("DELETE", `/chats/${enc(chatId)}/messages/${enc(id)}`, { query: { user_id: userId } }),
  // The emoji goes in the path percent-encoded (UTF-8), as encodeURIComponent does.
  react: (chatId, id, emoji, userId) =>
    request("PUT", `/chats/${enc(chatId)}/messages/${enc(id)}/reactions/${enc(emoji)}`, { body: { user_id: userId } }),
  unreact: (chatId, id, emoji, userId) =>
    request("DELETE", `/chats/${enc(chatId)}/messages/${enc(id)}/reactions/${enc(emoji)}`, { query: { user_id: userId } }),
  /** `GET /search`: `params` as search.js makes them; answers {results, next_cursor}. */
  search: (params) => request("GET", "/search", { query: params }),

  /** Upload a file with POST /media (multipart field `file`); reports progress 0..1. */
  upload(file, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/media");
      xhr.responseType = "json";
      if (authToken) xhr.setRequestHeader("Authorization", `Bearer ${authToken}`);
      xhr.timeout = 120000;
      xhr.upload.onprogress = (e) => e.lengthComputable && onProgress?.(e.loaded / e.total);
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300 && xhr.response?.url) resolve(xhr.response);
        else {
          const detail = xhr.response?.detail;
          const known = { 404: "This server does not accept uploads", 413: "File too large", 415: "Unsupported file type" };
          const fallback = known[xhr.status] || `Upload failed (HTTP ${xhr.status})`;
          reject(new ApiError(xhr.status, xhr.status !== 404 && typeof detail === "string" ? detail : fallback));
        }
      };
      xhr.onerror = () => reject(new ApiError(0, "Network error during upload"));
      xhr.ontimeout = () => reject(new ApiError(0, "Upload timed out"));
      const form = new FormData();
      form.append("file", file, file.name || "upload");
      xhr.send(form);
    });
  },
};
