// One WebSocket per chat, reconnecting with exponential backoff and resuming from the
// last message seen (`after_seq`), so a network drop loses and duplicates nothing.

const MIN_DELAY_MS = 400;
const MAX_DELAY_MS = 10000;
const STABLE_MS = 3000; // an open socket that lived this long resets the backoff
const FINAL_CODES = new Set([4401, 4403, 4404, 4422]);

export class ChatSocket {
  /**
   * @param {object} opts
   * @param {string} opts.chatId
   * @param {string} opts.userId
   * @param {() => number} opts.afterSeq  highest seq already held, read at each (re)connect
   * @param {(event: string, data: any) => void} opts.onEvent
   * @param {(state: string) => void} opts.onState  "connecting" | "open" | "closed" | "gone"
   */
  constructor({ chatId, userId, token = null, afterSeq, onEvent, onState }) {
    Object.assign(this, { chatId, userId, token, afterSeq, onEvent, onState });
    this.closeCode = null;
    this.ws = null;
    this.state = "idle";
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    this.openedAt = 0;
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
    const after = this.afterSeq?.();
    if (Number.isFinite(after) && after >= 0) params.set("after_seq", String(after));
    const url = `${proto}//${location.host}/ws/${encodeURIComponent(this.chatId)}?${params}`;
    this._setState("connecting");
    let ws;
    try {
      ws = new WebSocket(url);
    } catch {
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.openedAt = Date.now();
      this._setState("open");
    };
    ws.onmessage = (e) => {
      let parsed;
      try {
        parsed = JSON.parse(e.data);
      } catch {
        return; // not ours
      }
      // Plain frames are one {event, data}; the chatactors.v1 subprotocol batches them in arrays.
      for (const frame of Array.isArray(parsed) ? parsed : [parsed]) {
        if (frame && typeof frame.event === "string") this.onEvent(frame.event, frame.data || {});
      }
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (FINAL_CODES.has(e.code)) {
        // No such chat, not a participant, bad or missing token, bad query: retrying won't help.
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

  _scheduleReconnect() {
    this._setState("closed");
    const base = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.attempt);
    const delay = base * (0.75 + Math.random() * 0.5);
    this.attempt += 1;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this._connect(), delay);
  }
}
