// The tab's one WebSocket: `/ws` with the `chatactors.v1` subprotocol carries the events of
// every chat of mine and my commands (send, edit, delete, react, presence, read), each answered by `ack` or `error`
// with its `ref`. It reconnects with exponential backoff and jitter; on every (re)open the
// owner sends `resume` with its positions, so nothing is lost or shown twice.
import { ApiError } from "./api.js";

const MIN_DELAY_MS = 400;
const MAX_DELAY_MS = 10000;
const STABLE_MS = 3000; // an open socket that lived this long resets the backoff
const REQUEST_TIMEOUT_MS = 15000;
// Token missing or expired, forbidden, bad query: retrying would not help.
const FINAL_CODES = new Set([4401, 4403, 4404, 4422]);

/** A command whose outcome is unknown: the socket closed (or went silent) before its answer. */
export class Interrupted extends ApiError {
  constructor({ timedOut = false } = {}) {
    super(0, timedOut ? "The server took too long to answer" : "Connection lost");
    this.interrupted = true;
    this.timedOut = timedOut;
  }
}

export class UserSocket {
  /**
   * @param {object} opts
   * @param {string} opts.userId
   * @param {string|null} opts.token
   * @param {(event: string, chatId: string|null, data: any, pos: number|undefined) => void} opts.onEvent
   *   `pos`: the chat's log position of a message or a change to one
   * @param {(state: string) => void} opts.onState  "connecting" | "open" | "closed" | "gone"
   */
  constructor({ userId, token = null, onEvent, onState }) {
    Object.assign(this, { userId, token, onEvent, onState });
    this.closeCode = null;
    this.ws = null;
    this.state = "idle";
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    this.openedAt = 0;
    this.nextRef = 0;
    this.waiting = new Map(); // ref -> {resolve, reject, timer}
  }

  get isOpen() {
    return this.state === "open" && this.ws?.readyState === WebSocket.OPEN;
  }

  start() {
    this.stopped = false;
    this._connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) {
      this.ws.onclose = this.ws.onmessage = this.ws.onopen = this.ws.onerror = null;
      try {
        this.ws.close(1000, "client leaving");
      } catch {
        /* already closed */
      }
    }
    this.ws = null;
    this._failWaiting();
    this._setState("closed");
  }

  /** Reconnect at once if we are waiting in backoff (e.g. the network came back). */
  nudge() {
    if (this.stopped || this.state === "gone") return;
    if (this.state === "closed" || this.state === "idle") {
      clearTimeout(this.timer);
      this._connect();
    }
  }

  /**
   * Send a command and wait for its answer: resolves with the ack's data, rejects with an
   * ApiError (the server's `error`: status and detail) or Interrupted (no answer).
   */
  request(command) {
    if (!this.isOpen) return Promise.reject(new Interrupted());
    this.nextRef += 1;
    const ref = `r${this.nextRef}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this._settle(ref, null, new Interrupted({ timedOut: true })), REQUEST_TIMEOUT_MS);
      this.waiting.set(ref, { resolve, reject, timer });
      try {
        this.ws.send(JSON.stringify({ ...command, ref }));
      } catch {
        this._settle(ref, null, new Interrupted());
      }
    });
  }

  _settle(ref, data, error) {
    const waiter = this.waiting.get(ref);
    if (!waiter) return false;
    this.waiting.delete(ref);
    clearTimeout(waiter.timer);
    if (error) waiter.reject(error);
    else waiter.resolve(data);
    return true;
  }

  _failWaiting() {
    for (const ref of [...this.waiting.keys()]) this._settle(ref, null, new Interrupted());
  }

  _setState(state) {
    if (state !== this.state) {
      this.state = state;
      this.onState?.(state);
    }
  }

  _connect() {
    if (this.stopped) return;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const params = new URLSearchParams({ user_id: this.userId });
    if (this.token) params.set("token", this.token); // browsers cannot set headers on a WebSocket
    this._setState("connecting");
    let ws;
    try {
      ws = new WebSocket(`${proto}//${location.host}/ws?${params}`, ["chatactors.v1"]);
    } catch {
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.openedAt = Date.now();
      this._setState("open");
    };
    ws.onmessage = (e) => this._onFrame(e.data);
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this._failWaiting();
      if (this.stopped) return;
      if (FINAL_CODES.has(e.code)) {
        this.closeCode = e.code;
        this._setState("gone");
        return;
      }
      if (this.openedAt && Date.now() - this.openedAt > STABLE_MS) this.attempt = 0;
      this.openedAt = 0;
      this._scheduleReconnect();
    };
    ws.onerror = () => {
      /* onclose follows and schedules the retry */
    };
  }

  _onFrame(text) {
    let parsed;
    try {
      parsed = JSON.parse(text);
    } catch {
      return; // not ours
    }
    for (const frame of Array.isArray(parsed) ? parsed : [parsed]) {
      if (!frame || typeof frame.event !== "string") continue;
      const data = frame.data || {};
      if (frame.event === "ack" && this._settle(data.ref, data, null)) continue;
      if (frame.event === "error" && this._settle(data.ref, null, new ApiError(data.status || 400, data.detail))) continue;
      this.onEvent(frame.event, frame.chat_id ?? data.chat_id ?? null, data, frame.pos);
    }
  }

  _scheduleReconnect() {
    this._setState("closed");
    const base = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.attempt);
    const delay = base * (0.75 + Math.random() * 0.5);
    this.attempt += 1;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this._connect(), delay);
  }
}
