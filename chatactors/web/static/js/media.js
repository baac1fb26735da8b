// Image and audio message bodies, and the image viewer.
import { $, h, icon } from "./dom.js";
import { formatDuration, mediaUrl } from "./format.js";

/** An inline image that opens the viewer when clicked. */
export function imageBody(src, { alt = "Image" } = {}) {
  const url = mediaUrl(src);
  if (!url) return h("span", { class: "media-broken" }, icon("image", { size: 20 }), h("span", { text: "Image unavailable" }));
  const img = h("img", { src: url, alt, loading: "lazy", decoding: "async", draggable: "false" });
  const button = h("button", { type: "button", class: "image-btn", "aria-label": `Open ${alt.toLowerCase()} full size` }, img);
  img.addEventListener("load", () => button.classList.add("loaded"));
  img.addEventListener("error", () => {
    button.classList.add("broken");
    button.replaceChildren(icon("image", { size: 22 }), h("span", { text: "Image unavailable" }));
  });
  button.addEventListener("click", () => openLightbox(url, alt));
  return button;
}

let lightboxReady = false;

export function openLightbox(url, alt) {
  const dialog = $("#lightbox");
  const img = $("#lightbox-img");
  if (!lightboxReady) {
    lightboxReady = true;
    $("#lightbox-close").append(icon("x", { size: 22 }));
    $("#lightbox-close").addEventListener("click", () => dialog.close());
    dialog.addEventListener("click", (e) => {
      if (e.target === dialog) dialog.close();
    });
  }
  img.src = url;
  img.alt = alt;
  dialog.showModal();
  $("#lightbox-close").focus();
}

// Only one clip plays at a time.
let playing = null;

/** A compact, keyboard-usable audio player around a hidden <audio> element. */
export function audioBody(src, { label = "Audio message" } = {}) {
  const url = mediaUrl(src);
  if (!url) return h("span", { class: "media-broken", text: "Audio unavailable" });
  const audio = h("audio", { src: url, preload: "metadata" });
  const playBtn = h("button", { type: "button", class: "play-btn", "aria-label": `Play ${label.toLowerCase()}` }, icon("play", { size: 18 }));
  const seek = h("input", {
    type: "range", class: "seek", min: "0", max: "1000", value: "0", step: "1",
    "aria-label": "Position", "aria-valuetext": "0:00",
  });
  const time = h("span", { class: "audio-time", text: "0:00" });
  const wrap = h("div", { class: "audio-player" }, playBtn, h("div", { class: "audio-track" }, seek), time, audio);

  const duration = () => (Number.isFinite(audio.duration) ? audio.duration : 0);
  const paint = () => {
    const d = duration();
    const fraction = d ? audio.currentTime / d : 0;
    seek.value = String(Math.round(fraction * 1000));
    seek.style.setProperty("--fill", `${(fraction * 100).toFixed(1)}%`);
    const shown = audio.paused && audio.currentTime === 0 ? d : audio.currentTime;
    time.textContent = formatDuration(shown);
    seek.setAttribute("aria-valuetext", formatDuration(audio.currentTime));
  };
  const setPlaying = (on) => {
    playBtn.replaceChildren(icon(on ? "pause" : "play", { size: 18 }));
    playBtn.setAttribute("aria-label", `${on ? "Pause" : "Play"} ${label.toLowerCase()}`);
    wrap.classList.toggle("playing", on);
  };
  // Recorded WebM has no duration in its header (Chrome reports Infinity): seeking far past
  // the end makes the browser scan the file and learn it, then we rewind.
  let probing = false;
  audio.addEventListener("loadedmetadata", () => {
    if (audio.duration === Infinity) {
      probing = true;
      audio.currentTime = 1e101;
    }
    paint();
  });
  audio.addEventListener("durationchange", () => {
    if (probing && Number.isFinite(audio.duration)) {
      probing = false;
      audio.currentTime = 0;
    }
  });
  audio.addEventListener("durationchange", paint);
  audio.addEventListener("timeupdate", paint);
  audio.addEventListener("play", () => {
    if (playing && playing !== audio) playing.pause();
    playing = audio;
    setPlaying(true);
  });
  audio.addEventListener("pause", () => setPlaying(false));
  audio.addEventListener("ended", () => {
    audio.currentTime = 0;
    setPlaying(false);
    paint();
  });
  audio.addEventListener("error", () => {
    wrap.classList.add("broken");
    time.textContent = "unavailable";
    playBtn.disabled = true;
  });
  playBtn.addEventListener("click", () => {
    if (audio.paused) audio.play().catch(() => {});
    else audio.pause();
  });
  seek.addEventListener("input", () => {
    const d = duration();
    if (d) audio.currentTime = (Number(seek.value) / 1000) * d;
    paint();
  });
  return wrap;
}
