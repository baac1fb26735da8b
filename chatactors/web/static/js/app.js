// Entry point: who am I, the chat list (with its mention badges), the search box and its keyboard
// shortcuts, the new-chat dialog, routing (#/chat/<id>, and opening a search result in it).
import { $, h, icon, reconcile, resetKeyed } from "./dom.js";
import { avatar } from "./avatar.js";
import { setAuthToken } from "./api.js";
import { ChatClient } from "./client.js";
import { browserPage } from "./page.js";
import { ConversationView } from "./conversation.js";
import { SearchPanel } from "./search-panel.js";
import { toast } from "./toast.js";
import { tokenUser } from "./token.js";
import { BOT, displayName, formatListTime } from "./format.js";
import { shownContent } from "./changes.js";
import { chatName, cleanTitle, parseNames, systemText } from "./members.js";

const USER_KEY = "chatactors.user";
const RECENT_KEY = "chatactors.recentUsers";
const TOKEN_KEY = "chatactors.token";

let client = null;
let conversation = null;
let search = null;
let listFrame = 0;
let searchTerm = "";
// A search result being opened: {chatId, message}, shown once its chat is open.
let revealing = null;

// ---- who am I ----------------------------------------------------------------------------

function storage(kind) {
  try {
    return kind === "session" ? window.sessionStorage : window.localStorage;
  } catch {
    return null;
  }
}

function recentUsers() {
  try {
    const list = JSON.parse(storage("local")?.getItem(RECENT_KEY) || "[]");
    return Array.isArray(list) ? list.filter((x) => typeof x === "string").slice(0, 8) : [];
  } catch {
    return [];
  }
}

function rememberUser(name) {
  storage("local")?.setItem(USER_KEY, name);
  storage("session")?.setItem(USER_KEY, name); // this tab keeps its user even if another tab switches
  const recent = [name, ...recentUsers().filter((u) => u !== name)].slice(0, 8);
  storage("local")?.setItem(RECENT_KEY, JSON.stringify(recent));
}

/** ?user=bob in the address wins, then this tab's user, then the last one used in this browser. */
function initialUser() {
  const params = new URLSearchParams(location.search);
  return params.get("user") || storage("session")?.getItem(USER_KEY) || storage("local")?.getItem(USER_KEY) || "";
}

/** With access control on: a link `/?token=<JWT>` signs this tab in (kept in sessionStorage). */
function takeToken() {
  const params = new URLSearchParams(location.search);
  const fromUrl = params.get("token");
  if (fromUrl) {
    storage("session")?.setItem(TOKEN_KEY, fromUrl);
    params.delete("token");
    params.delete("user");
    const query = params.toString();
    history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}${location.hash}`);
  }
  const token = fromUrl || storage("session")?.getItem(TOKEN_KEY) || null;
  const user = token ? tokenUser(token) : null;
  return user ? { token, user } : null;
}

function validateName(raw) {
  const name = raw.trim();
  if (!name) return [null, "Please enter a name."];
  if (name.length > 64) return [null, "That name is too long (64 characters at most)."];
  if (name === BOT) return [null, "That name belongs to the bot. Pick another one."];
  return [name, null];
}

function showLogin(message = "") {
  if (client) {
    client.stop();
    client = null;
  }
  conversation?.setClient(null);
  $("#app").hidden = true;
  $("#login").hidden = false;
  document.title = "chatactors";
  const recent = recentUsers();
  $("#login-recent").hidden = recent.length === 0;
  $("#login-recent-list").replaceChildren(
    ...recent.map((name) =>
      h("button", { type: "button", class: "chip chip-person", onclick: () => login(name) },
        avatar(name, { size: 22 }), h("span", { text: name }))),
  );
  const input = $("#login-name");
  input.value = "";
  $("#login-error").hidden = !message;
  $("#login-error").textContent = message;
  input.focus();
}

async function login(name) {
  const [valid, error] = validateName(name);
  const errorEl = $("#login-error");
  errorEl.hidden = !error;
  errorEl.textContent = error || "";
  if (!valid) return;
  rememberUser(valid);
  await startAs(valid);
}

async function startAs(me) {
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#me-name").textContent = me;
  $("#me-avatar").replaceChildren(avatar(me, { size: 40 }));
  resetKeyed($("#chat-list"));
  client = new ChatClient(me, browserPage);
  conversation.setClient(client);
  search.setClient(client);
  client.addEventListener("change", (e) => {
    if (e.detail.kind === "auth-required") {
      storage("session")?.removeItem(TOKEN_KEY);
      setAuthToken(null);
      showLogin("This server requires signing in: open the link with your access token (…/?token=…).");
      return;
    }
    conversation.onChange(e.detail);
    if (e.detail.kind === "active") search.setActiveChat(e.detail.chatId);
    if (["chats", "connection", "presence", "read", "message", "update", "status", "active", "chat", "removed"].includes(e.detail.kind)) scheduleList();
  });
  scheduleList();
  await client.start();
  route();
}

// ---- chat list ---------------------------------------------------------------------------

function scheduleList() {
  if (!listFrame) listFrame = requestAnimationFrame(() => {
    listFrame = 0;
    renderSidebar();
  });
}

function previewOf(chat) {
  const me = client.me;
  const typers = [...chat.typing.keys()].filter((u) => u !== me);
  if (typers.length) {
    const who = chat.isGroup ? `${displayName(typers[0], me)} is typing…` : "typing…";
    return { typing: true, nodes: [h("span", { class: "preview-typing", text: who })] };
  }
  const m = chat.lastMessage;
  if (!m) return { nodes: [h("span", { class: "muted", text: "No messages yet" })] };
  if (m.system) return { nodes: [h("span", { class: "preview-system", text: systemText(m, me) })] };
  const nodes = [];
  if (m.user_id === me) {
    const state = m._local ? (m._status === "failed" ? "failed" : "sending") : chat.readState(m.seq);
    const name = { sending: "clock", failed: "alert", sent: "check", partial: "checks", read: "checks" }[state];
    nodes.push(h("span", { class: `preview-ticks ${state}` }, icon(name, { size: 15 })));
    nodes.push(h("span", { class: "preview-who", text: "You:" }));
  } else if (chat.isGroup || (m.user_id === BOT && chat.otherHumans[0] !== BOT)) {
    nodes.push(h("span", { class: "preview-who", text: `${displayName(m.user_id, me)}:` }));
  }
  if (m.deleted) nodes.push(icon("ban", { size: 14 }), h("span", { class: "preview-deleted", text: "Message deleted" }));
  else if (m.type === "image") nodes.push(icon("image", { size: 14 }), h("span", { text: "Photo" }));
  else if (m.type === "audio") nodes.push(icon("audio", { size: 14 }), h("span", { text: "Audio" }));
  else nodes.push(h("span", { text: String(shownContent(chat, m) ?? "").replace(/\s+/g, " ") }));
  return { nodes };
}

function chatStatusDot(chat) {
  return chat.isGroup ? chat.presenceDot() : chat.presenceDot(chat.otherHumans[0]);
}

function createChatItem(chat) {
  const button = h("button", { type: "button", class: "chat-item", dataset: { chatId: chat.id } });
  button.addEventListener("click", () => {
    location.hash = `#/chat/${encodeURIComponent(chat.id)}`;
  });
  return h("li", { class: "chat-li" }, button);
}

function updateChatItem(li, chat) {
  const button = li.firstChild;
  const active = client.activeId === chat.id;
  const title = chatName(chat, client.me);
  const status = chatStatusDot(chat);
  const time = chat.lastMessage?._time || null;
  const preview = previewOf(chat);
  const unread = chat.unread;
  const mentions = chat.unreadMentions;
  // Rebuild the inside only when what it shows changed (keeps hover/focus stable).
  const signature = JSON.stringify([title, status, time?.getTime(), chat.lastMessage?._key, chat.lastMessage?._status,
    chat.lastMessage?.deleted, shownContent(chat, chat.lastMessage),
    chat.lastMessage && chat.readState(chat.lastMessage.seq), preview.typing, unread, mentions, chat.isGroup]);
  button.setAttribute("aria-current", active ? "true" : "false");
  button.classList.toggle("active", active);
  if (button._signature === signature) return;
  button._signature = signature;
  button.classList.toggle("unread", unread > 0);
  const av = avatar(chat.otherHumans[0], { size: 48, status, group: chat.isGroup ? chat.id : null });
  const badge = unread > 0
    ? h("span", { class: "badge", "aria-label": `${unread} unread message${unread === 1 ? "" : "s"}`, text: unread > 99 ? "99+" : String(unread) })
    : null;
  // Someone asked me something: "@" beside the count, until I read the chat.
  const mentionLabel = `${mentions} unread mention${mentions === 1 ? "" : "s"} of you`;
  const mentionBadge = mentions > 0
    ? h("span", { class: "badge badge-mention", role: "img", "aria-label": mentionLabel, title: mentionLabel, text: "@" })
    : null;
  const statusText = status === "online"
    ? h("span", { class: "sr-only", text: chat.isGroup ? " (someone is online)" : " (online)" })
    : null;
  button.replaceChildren(
    av,
    h("span", { class: "ci-main" },
      h("span", { class: "ci-top" },
        h("span", { class: "ci-title" }, h("span", { class: "ci-name", text: title }), statusText),
        time ? h("time", { class: "ci-time", datetime: time.toISOString(), text: formatListTime(time) }) : null),
      h("span", { class: "ci-bottom" },
        h("span", { class: `ci-preview${preview.typing ? " typing" : ""}` }, preview.nodes),
        mentionBadge,
        badge)),
  );
}

function renderSidebar() {
  if (!client) return;
  // Connection indicator.
  const state = client.connectionState;
  const conn = $("#connection");
  const labels = { online: "Connected", connecting: "Connecting…", reconnecting: "Reconnecting…", offline: "Offline" };
  conn.dataset.state = state;
  if (conn.textContent !== labels[state]) conn.replaceChildren(h("span", { class: "conn-dot", "aria-hidden": "true" }), labels[state]);

  const term = searchTerm.trim().toLowerCase();
  const chats = client.chatList.filter((c) => !term || (c.title || "").toLowerCase().includes(term)
    || c.participants.some((u) => displayName(u, null).toLowerCase().includes(term)));
  reconcile($("#chat-list"), chats, (c) => c.id, createChatItem, updateChatItem);
  $("#chat-list-empty").hidden = !(client.loaded && client.chats.size === 0);
  const noMatch = term && client.chats.size > 0 && chats.length === 0;
  $("#search-empty").hidden = !noMatch;
  if (noMatch) $("#search-empty").textContent = `No chat with “${searchTerm.trim()}”`;

  const unread = client.totalUnread;
  document.title = unread ? `(${unread}) chatactors` : "chatactors";
  search.refresh();
}

// ---- new chat ----------------------------------------------------------------------------

const people = [];

/** `prefill`: start a group with these people (a one-to-one chat's "Start a group"). */
function openNewChat({ prefill = [], group = false } = {}) {
  people.length = 0;
  people.push(...prefill);
  $("#new-chat-name").value = "";
  $("#new-chat-group").checked = group;
  renderPeople();
  $("#new-chat-error").hidden = true;
  $("#people-input").value = "";
  $("#new-chat-dialog").showModal();
  (group ? $("#new-chat-name") : $("#people-input")).focus();
}

function addPeople(raw) {
  people.push(...parseNames(raw, client.me, people));
  renderPeople();
}

function renderPeople() {
  $("#people-chips").replaceChildren(
    ...people.map((name) =>
      h("span", { class: "chip chip-person" }, avatar(name, { size: 22 }), h("span", { text: name }),
        h("button", {
          type: "button", class: "chip-remove", "aria-label": `Remove ${name}`,
          onclick: () => {
            people.splice(people.indexOf(name), 1);
            renderPeople();
            $("#people-input").focus();
          },
        }, icon("x", { size: 14 })))),
  );
  const suggestions = client ? client.contacts.filter((u) => !people.includes(u)) : [];
  $("#people-suggest-wrap").hidden = suggestions.length === 0;
  $("#people-suggest").replaceChildren(
    ...suggestions.map((name) =>
      h("button", { type: "button", class: "chip chip-person chip-add", onclick: () => addPeople(name) },
        avatar(name, { size: 22 }), h("span", { text: name }), icon("plus", { size: 14 }))),
  );
  const n = people.length;
  const group = n > 1 || $("#new-chat-group").checked || !!$("#new-chat-name").value.trim();
  $("#new-chat-create").textContent = group ? `Create group (${n + 1} people)` : "Create chat";
}

async function createFromDialog() {
  const input = $("#people-input");
  if (input.value.trim()) addPeople(input.value);
  input.value = "";
  const error = $("#new-chat-error");
  if (!people.length) {
    error.textContent = "Add at least one person.";
    error.hidden = false;
    input.focus();
    return;
  }
  const { title, error: titleError } = cleanTitle($("#new-chat-name").value);
  if (titleError) {
    error.textContent = titleError;
    error.hidden = false;
    $("#new-chat-name").focus();
    return;
  }
  const button = $("#new-chat-create");
  button.disabled = true;
  try {
    const chat = await client.createChat([...people], { title, group: $("#new-chat-group").checked });
    $("#new-chat-dialog").close();
    location.hash = `#/chat/${encodeURIComponent(chat.id)}`;
  } catch (err) {
    error.textContent = `Could not create the chat: ${err.message}`;
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
}

// ---- routing -----------------------------------------------------------------------------

function route() {
  if (!client) return;
  document.body.classList.remove("searching");
  const match = location.hash.match(/^#\/chat\/(.+)$/);
  const chatId = match ? decodeURIComponent(match[1]) : null;
  const target = revealing?.chatId === chatId ? revealing : null;
  revealing = null;
  if (chatId && client.chats.has(chatId)) {
    client.openChat(chatId).then(() => target && conversation.reveal(chatId, target.message));
  } else {
    if (chatId && client.loaded) toast("That chat is not one of yours.", { kind: "error" });
    if (chatId) history.replaceState(null, "", location.pathname + location.search);
    client.closeChat();
  }
  scheduleList();
}

// ---- search ----------------------------------------------------------------------------------

/** A search result chosen: its chat opens at that message. */
async function openHit(hit) {
  if (!client.chats.has(hit.chat_id)) await client.refreshSoon();
  if (!client.chats.has(hit.chat_id)) {
    toast("That chat is not one of yours any more.", { kind: "error" });
    return;
  }
  revealing = { chatId: hit.chat_id, message: { id: hit.message.id, seq: hit.message.seq } };
  const hash = `#/chat/${encodeURIComponent(hit.chat_id)}`;
  if (location.hash === hash) route();
  else location.hash = hash;
}

function isTyping(target) {
  return !!target?.closest?.("input, textarea, select, [contenteditable=''], [contenteditable='true']");
}

/** Ctrl+K (Cmd+K on a Mac) anywhere, or "/" when not typing: the search box. */
function onShortcut(ev) {
  if (!client || $("#app").hidden || ev.defaultPrevented || ev.isComposing) return;
  if (document.querySelector("dialog[open]")) return; // a dialog has the keyboard
  const k = ev.key.toLowerCase() === "k" && (ev.ctrlKey || ev.metaKey) && !ev.altKey && !ev.shiftKey;
  const slash = ev.key === "/" && !ev.ctrlKey && !ev.metaKey && !ev.altKey && !isTyping(ev.target);
  if (!k && !slash) return;
  ev.preventDefault();
  search.focus();
}

// ---- boot ----------------------------------------------------------------------------------

function boot() {
  conversation = new ConversationView({
    startGroup: (members) => openNewChat({ prefill: members, group: true }),
    searchHere: () => search.focus({ here: true }),
  });
  search = new SearchPanel({
    onTerm: (text) => {
      searchTerm = text;
      scheduleList();
    },
    onOpen: openHit,
  });
  document.addEventListener("keydown", onShortcut);
  if (/Mac|iPhone|iPad/.test(navigator.platform)) $(".search-kbd").textContent = "⌘K";
  $("#switch-user").append(icon("switch", { size: 20 }));
  $("#new-chat").append(icon("edit", { size: 20 }));
  $("#new-chat-close").append(icon("x", { size: 20 }));
  $("#search-icon").append(icon("search", { size: 16 }));

  $("#login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    login($("#login-name").value);
  });
  $("#switch-user").addEventListener("click", () => {
    history.replaceState(null, "", location.pathname);
    storage("session")?.removeItem(USER_KEY);
    storage("session")?.removeItem(TOKEN_KEY);
    setAuthToken(null);
    showLogin();
  });
  $("#new-chat").addEventListener("click", () => openNewChat());
  $("#empty-new-chat").addEventListener("click", () => openNewChat());
  $("#new-chat-name").addEventListener("input", renderPeople);
  $("#new-chat-group").addEventListener("change", renderPeople);
  $("#new-chat-cancel").addEventListener("click", () => $("#new-chat-dialog").close());
  $("#new-chat-close").addEventListener("click", () => $("#new-chat-dialog").close());
  $("#new-chat-form").addEventListener("submit", (e) => {
    e.preventDefault();
    createFromDialog();
  });
  $("#people-input").addEventListener("keydown", (e) => {
    const input = e.target;
    if ((e.key === "Enter" || e.key === ",") && input.value.trim()) {
      e.preventDefault();
      addPeople(input.value);
      input.value = "";
    } else if (e.key === "Enter" && !input.value.trim() && people.length) {
      e.preventDefault();
      createFromDialog();
    } else if (e.key === "Backspace" && !input.value && people.length) {
      people.pop();
      renderPeople();
    }
  });
  $("#people-box").addEventListener("click", () => $("#people-input").focus());
  window.addEventListener("hashchange", route);
  // Minute-level times ("last seen", list times) stay current.
  setInterval(() => {
    if (!client) return;
    for (const li of $("#chat-list").children) li.firstChild._signature = null;
    scheduleList();
  }, 60000);

  const signedIn = takeToken();
  if (signedIn) {
    setAuthToken(signedIn.token);
    startAs(signedIn.user);
    return;
  }
  const me = initialUser();
  const [valid] = validateName(me);
  if (valid) {
    rememberUser(valid);
    startAs(valid);
  } else showLogin();
}

boot();
