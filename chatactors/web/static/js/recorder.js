// Voice messages with MediaRecorder: start, a visible timer, cancel or finish.
import { formatDuration } from "./format.js";

const MAX_SECONDS = 300;
const TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm", "audio/mp4"];

export class Recorder {
  constructor({ onTick, onState, onFile, onError }) {
    Object.assign(this, { onTick, onState, onFile, onError });
    this.media = null;
    this.stream = null;
    this.chunks = [];
    this.cancelled = false;
    this.timer = null;
    this.startedAt = 0;
  }

  get active() {
    return !!this.media;
  }

  async start() {
    if (this.media) return;
    if (!navigator.mediaDevices?.getUserMedia || !window.MediaRecorder) {
      this.onError("Voice recording is not supported in this browser.");
      return;
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      this.onError(err?.name === "NotAllowedError" ? "Microphone access was denied." : "No microphone is available.");
      return;
    }
    const mimeType = TYPES.find((t) => MediaRecorder.isTypeSupported(t));
    this.media = new MediaRecorder(this.stream, mimeType ? { mimeType } : {});
    this.chunks = [];
    this.cancelled = false;
    this.media.addEventListener("dataavailable", (e) => e.data.size && this.chunks.push(e.data));
    this.media.addEventListener("stop", () => this._stopped());
    this.media.start(250);
    this.startedAt = performance.now();
    this.onTick("0:00");
    this.timer = setInterval(() => {
      const seconds = (performance.now() - this.startedAt) / 1000;
      this.onTick(formatDuration(seconds));
      if (seconds >= MAX_SECONDS) this.finish();
    }, 250);
    this.onState(true);
  }

  /** Stop and hand the recording over for sending. */
  finish() {
    if (this.media && this.media.state !== "inactive") this.media.stop();
  }

  cancel() {
    if (!this.media) return;
    this.cancelled = true;
    if (this.media.state !== "inactive") this.media.stop();
    else this._stopped();
  }

  _stopped() {
    clearInterval(this.timer);
    const media = this.media;
    this.media = null;
    for (const track of this.stream?.getTracks() || []) track.stop();
    this.stream = null;
    this.onState(false);
    if (this.cancelled || !this.chunks.length || !media) return;
    const type = (media.mimeType || "audio/webm").split(";")[0];
    const ext = type.includes("ogg") ? "ogg" : type.includes("mp4") ? "m4a" : "webm";
    const file = new File(this.chunks, `voice-message-${Date.now()}.${ext}`, { type });
    this.chunks = [];
    this.onFile(file);
  }
}
