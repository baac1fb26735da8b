// The browser page as the client needs to know it: whether it is seen, whether the browser
// believes it is offline, and word when it is seen again or back online. The client's one
// window on the page, handed to it by app.js, so that client.js reads none of the document and
// window globals itself (tests/web/test_client_javascript.py holds it to that).

/** @typedef {{ onVisible: () => void, onOnline: () => void }} PageWatchers */

export const browserPage = {
  isVisible: () => document.visibilityState === "visible",
  isOffline: () => navigator.onLine === false,
  /** Call `onVisible` when the page is seen again, `onOnline` when the network is back; returns
   *  what stops it. @param {PageWatchers} watchers */
  watch({ onVisible, onOnline }) {
    const visibility = () => {
      if (document.visibilityState === "visible") onVisible();
    };
    document.addEventListener("visibilitychange", visibility);
    window.addEventListener("online", onOnline);
    return () => {
      document.removeEventListener("visibilitychange", visibility);
      window.removeEventListener("online", onOnline);
    };
  },
};
