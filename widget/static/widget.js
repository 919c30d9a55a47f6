/* Frontdesk chat widget: one script tag, a launcher and a panel in a Shadow DOM.
   Protocol: docs/widget-protocol.md. No third-party code. The server prepends
   `var FRONTDESK_CONFIG = {...};` when it serves this file. */
(function () {
  "use strict";
  var CONFIG = typeof FRONTDESK_CONFIG === "object" ? FRONTDESK_CONFIG : null;
  if (!CONFIG || window.__frontdeskLoaded) return;
  window.__frontdeskLoaded = true;

  var TEXT = {
    en: { chat: "Chat", close: "Close", message: "Message", send: "Send", you: "You",
          offline: "We are away right now. Leave your email and we will answer you there.",
          email: "Your email", connecting: "Connecting…", sending: "Sending…",
          yourName: "Your name", start: "Start the chat", prechat: "Before we start, tell us who you are.",
          newMessages: "new messages", attach: "Attach a file", typing: "is typing…", someone: "Someone",
          tooBig: "That file is too large.", uploadFailed: "The file could not be sent." },
    es: { chat: "Chat", close: "Cerrar", message: "Mensaje", send: "Enviar", you: "Tú",
          offline: "Ahora no estamos. Déjanos tu correo y te responderemos allí.",
          email: "Tu correo electrónico", connecting: "Conectando…", sending: "Enviando…",
          yourName: "Tu nombre", start: "Empezar el chat", prechat: "Antes de empezar, dinos quién eres.",
          newMessages: "mensajes nuevos", attach: "Adjuntar un archivo", typing: "está escribiendo…", someone: "Alguien",
          tooBig: "El archivo es demasiado grande.", uploadFailed: "No se pudo enviar el archivo." }
  };
  var script = document.currentScript;
  var wanted = (script && script.getAttribute("data-language")) || navigator.language || "en";
  var lang = String(wanted).toLowerCase().indexOf("es") === 0 ? "es" : "en";
  var t = TEXT[lang];
  var store = "frontdesk:" + CONFIG.channel + ":";
  var listeners = {};
  var state = { ws: null, open: false, ready: false, unread: 0, lastSeq: 0, seen: {}, pending: [], retry: 500, identity: null, online: true, upload: null, typingSent: 0, typingTimer: null,
                inFlight: null, flushTimer: null, contextSent: null };

  function save(key, value) { try { localStorage.setItem(store + key, JSON.stringify(value)); } catch (e) { /* private mode */ } }
  function load(key) { try { return JSON.parse(localStorage.getItem(store + key)); } catch (e) { return null; } }
  state.pending = load("pending") || [];
  state.identity = load("identity");
  state.continueByEmail = load("continue");
  state.read = load("read") || 0; // the newest agent message the visitor has seen (its id)
  state.prechat = load("prechat"); // what the pre-chat form asked, once given
  var asks = (CONFIG.prechat || []).filter(function (f) { return f === "name" || f === "email"; });

  // -- the DOM, inside a Shadow DOM so the page's CSS and ours never meet ------------------
  var host = document.createElement("div");
  host.setAttribute("data-frontdesk", CONFIG.channel);
  var root = host.attachShadow({ mode: "open" });
  var colour = /^#[0-9a-fA-F]{6}$/.test(CONFIG.color) ? CONFIG.color : "#2456d6";
  root.innerHTML =
    "<style>" +
    ":host{all:initial}*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}" +
    ".launcher{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;background:" + colour + ";color:#fff;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000;display:flex;align-items:center;justify-content:center}" +
    ".launcher:focus-visible,button:focus-visible,textarea:focus-visible,input:focus-visible{outline:3px solid #8fb0ff;outline-offset:2px}" +
    ".badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;border-radius:10px;background:#d92d20;color:#fff;font-size:12px;line-height:20px;text-align:center;padding:0 5px}" +
    ".panel{position:fixed;right:20px;bottom:88px;width:360px;max-width:calc(100vw - 24px);height:520px;max-height:calc(100vh - 110px);background:#fff;color:#1d2330;border-radius:14px;box-shadow:0 10px 40px rgba(0,0,0,.25);display:flex;flex-direction:column;overflow:hidden;z-index:2147483000;font-size:15px;line-height:1.45}" +
    ".panel[hidden]{display:none}" +
    "header{background:" + colour + ";color:#fff;padding:14px 16px;display:flex;align-items:center;justify-content:space-between}" +
    "header h2{margin:0;font-size:16px;font-weight:600}" +
    "header button{background:transparent;border:0;color:#fff;font-size:22px;line-height:1;cursor:pointer;padding:2px 6px;border-radius:6px}" +
    ".log{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:8px;background:#f6f7f9}" +
    ".msg{max-width:80%;padding:8px 12px;border-radius:12px;white-space:pre-wrap;overflow-wrap:anywhere}" +
    ".msg.in{align-self:flex-end;background:" + colour + ";color:#fff;border-bottom-right-radius:4px}" +
    ".msg.out{align-self:flex-start;background:#fff;border:1px solid #e3e6ec;border-bottom-left-radius:4px}" +
    ".msg .who{display:block;font-size:12px;opacity:.75;margin-bottom:2px}" +
    ".msg.pending{opacity:.6}.note{font-size:13px;color:#5d6678;text-align:center}" +
    "form{display:flex;gap:8px;padding:10px;border-top:1px solid #e3e6ec;background:#fff;align-items:flex-end}" +
    "textarea{flex:1;resize:none;border:1px solid #cdd3dd;border-radius:10px;padding:8px 10px;font-size:15px;max-height:120px;color:#1d2330;background:#fff}" +
    ".send{background:" + colour + ";color:#fff;border:0;border-radius:10px;padding:9px 14px;font-size:15px;cursor:pointer}" +
    ".offline{padding:10px 12px;border-top:1px solid #e3e6ec;font-size:13px;color:#5d6678;background:#fffaf0}" +
    ".offline input{width:100%;margin-top:6px;border:1px solid #cdd3dd;border-radius:8px;padding:7px 9px;font-size:14px}" +
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}" +
    ".attach{background:transparent;border:1px solid #cdd3dd;border-radius:10px;padding:7px 9px;cursor:pointer;color:#5d6678;line-height:0}" +
    ".msg a{color:inherit;text-decoration:underline;display:block;overflow-wrap:anywhere}.msg a:before{content:'\\2193  '}.msg img{max-width:100%;border-radius:8px;display:block;margin-top:4px}" +
    ".msg time{display:block;font-size:11px;opacity:.9;margin-top:2px;text-align:right}" +
    ".status{font-size:12px;color:#5d6678;padding:0 14px 4px;background:#f6f7f9}.status[hidden]{display:none}" +
    ".prechat{padding:12px;border-top:1px solid #e3e6ec;background:#fff;display:flex;flex-direction:column;align-items:stretch;gap:8px}.prechat .send{align-self:flex-end}.prechat[hidden]{display:none}" +
    ".prechat p{margin:0;font-size:13px;color:#5d6678}.prechat label{font-size:13px;color:#1d2330;display:flex;flex-direction:column;gap:3px}" +
    ".prechat input{border:1px solid #cdd3dd;border-radius:8px;padding:7px 9px;font-size:14px;color:#1d2330;background:#fff}" +
    "form.chat[hidden]{display:none}" +
    ".typing{font-size:13px;color:#5d6678;padding:0 14px 6px;background:#f6f7f9;min-height:1.2em}" +
    "</style>" +
    "<button class='launcher' type='button' aria-haspopup='dialog' aria-expanded='false'>" +
    "<svg width='26' height='26' viewBox='0 0 24 24' aria-hidden='true' fill='currentColor'><path d='M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z'/></svg>" +
    "<span class='badge' hidden></span></button>" +
    "<section class='panel' role='dialog' aria-modal='false' hidden>" +
    "<header><h2></h2><button class='close' type='button'>&times;</button></header>" +
    "<div class='log' role='log' aria-live='polite' tabindex='0'></div>" +
    "<div class='typing' aria-live='polite'></div><div class='status' role='status' hidden></div>" +
    "<div class='offline' hidden><span></span><input type='email' autocomplete='email'></div>" +
    "<form class='prechat' hidden><p></p></form>" +
    "<form class='chat'><button class='attach' type='button'><svg width='18' height='18' viewBox='0 0 24 24' aria-hidden='true' fill='none' stroke='currentColor' stroke-width='2'><path d='M21 12.5l-8.5 8.5a5 5 0 0 1-7-7L14 5.5a3.5 3.5 0 0 1 5 5L10.5 19a2 2 0 0 1-3-3L15 8.5'/></svg></button>" +
    "<input class='file sr' type='file' tabindex='-1' aria-hidden='true'><textarea rows='1'></textarea><button class='send' type='submit'></button></form>" +
    "</section>";

  var launcher = root.querySelector(".launcher");
  var badge = root.querySelector(".badge");
  var panel = root.querySelector(".panel");
  var log = root.querySelector(".log");
  var form = root.querySelector("form.chat");
  var prechatForm = root.querySelector("form.prechat");
  var statusLine = root.querySelector(".status");
  var input = root.querySelector("textarea");
  var sendButton = root.querySelector(".send");
  var closeButton = root.querySelector(".close");
  var offline = root.querySelector(".offline");
  var emailInput = offline.querySelector("input");
  var attachButton = root.querySelector(".attach");
  var fileInput = root.querySelector(".file");
  var typingLine = root.querySelector(".typing");
  attachButton.setAttribute("aria-label", t.attach);
  attachButton.setAttribute("title", t.attach);
  var title = (lang === "es" && CONFIG.title_es) || CONFIG.title || "Support";
  launcher.setAttribute("aria-label", t.chat);
  closeButton.setAttribute("aria-label", t.close);
  panel.setAttribute("aria-label", title);
  root.querySelector("h2").textContent = title;
  input.setAttribute("aria-label", t.message);
  input.setAttribute("placeholder", t.message + "…");
  sendButton.textContent = t.send;
  offline.querySelector("span").textContent = t.offline;
  emailInput.setAttribute("aria-label", t.email);
  emailInput.setAttribute("placeholder", t.email);
  statusLine.textContent = t.sending;

  // -- the pre-chat form: asked once, before the first message ----------------------------------
  prechatForm.querySelector("p").textContent = t.prechat;
  var prechatInputs = {};
  asks.forEach(function (field) {
    var label = document.createElement("label");
    label.appendChild(document.createTextNode(field === "name" ? t.yourName : t.email));
    var box = document.createElement("input");
    box.type = field === "email" ? "email" : "text";
    box.name = field;
    box.required = true;
    box.maxLength = field === "email" ? 320 : 255;
    box.autocomplete = field === "email" ? "email" : "name";
    label.appendChild(box);
    prechatForm.appendChild(label);
    prechatInputs[field] = box;
  });
  var startButton = document.createElement("button");
  startButton.type = "submit";
  startButton.className = "send";
  startButton.textContent = t.start;
  prechatForm.appendChild(startButton);
  function needsPrechat() { return asks.length > 0 && !state.prechat && !load("started") && !state.identity; }
  function showPrechat() {
    var asking = needsPrechat();
    prechatForm.hidden = !asking;
    form.hidden = asking;
  }
  prechatForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var given = {};
    asks.forEach(function (field) { given[field] = prechatInputs[field].value.trim(); });
    state.prechat = given;
    save("prechat", given);
    showPrechat();
    input.focus();
    if (state.ws) { state.ready = false; state.ws.close(); } // say hello again, with the answers
  });

  function note(text) {
    var p = document.createElement("p");
    p.className = "note";
    p.textContent = text;
    log.appendChild(p);
  }
  var greeting = (lang === "es" && CONFIG.greeting_es) || CONFIG.greeting;
  if (greeting) {
    var g = document.createElement("div");
    g.className = "msg out";
    g.textContent = greeting;
    log.appendChild(g);
  }

  function stamp(div, iso) {
    var when = iso ? new Date(iso) : new Date();
    if (isNaN(when.getTime())) return;
    var old = div.querySelector("time");
    var el = old || document.createElement("time");
    el.setAttribute("datetime", when.toISOString());
    el.textContent = when.toLocaleTimeString(lang === "es" ? "es" : "en", { hour: "numeric", minute: "2-digit" });
    el.title = when.toLocaleString(lang === "es" ? "es" : "en");
    if (!old) div.appendChild(el);
  }

  function bubble(direction, text, author, id, files, createdAt) {
    var div = document.createElement("div");
    div.className = "msg " + direction;
    if (id) div.setAttribute("data-id", id);
    if (direction === "out" && author) {
      var who = document.createElement("span");
      who.className = "who";
      who.textContent = author;
      div.appendChild(who);
    }
    if (text) { var body = document.createElement("span"); body.className = "text"; body.textContent = text; div.appendChild(body); }
    addFiles(div, files);
    stamp(div, createdAt);
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
    return div;
  }

  // Links only to our own server's files; images shown only for raster types.
  function addFiles(div, files) {
    (files || []).forEach(function (f) {
      if (typeof f.url !== "string" || f.url.indexOf(CONFIG.endpoint + "/") !== 0) return;
      var a = document.createElement("a");
      a.href = f.url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      a.textContent = f.name;
      if (/^image\/(png|jpeg|gif|webp)$/.test(f.type)) {
        var img = document.createElement("img");
        img.src = f.url;
        img.alt = f.name;
        a.appendChild(img);
      }
      div.appendChild(a);
    });
  }

  function showUnread() {
    badge.hidden = state.unread === 0;
    badge.textContent = state.unread > 9 ? "9+" : String(state.unread);
    launcher.setAttribute("aria-label", state.unread ? t.chat + " (" + state.unread + " " + t.newMessages + ")" : t.chat);
  }

  function emit(name, detail) {
    (listeners[name] || []).forEach(function (fn) { try { fn(detail); } catch (e) { setTimeout(function () { throw e; }); } });
  }

  // -- the connection ---------------------------------------------------------------------
  function connect() {
    if (state.ws) return; // one socket per page
    var url = CONFIG.endpoint.replace(/^http/, "ws") + "/widget/" + encodeURIComponent(CONFIG.channel) + "/ws";
    var ws = new WebSocket(url);
    state.ws = ws;
    ws.onopen = function () {
      state.retry = 500;
      var hello = { type: "hello", token: load("token"), after: 0, language: lang, context: pageContext() };
      state.contextSent = JSON.stringify(hello.context);
      if (state.identity) hello.identity = state.identity;
      if (state.prechat) hello.prechat = state.prechat;
      if (state.continueByEmail) hello.continue_by_email = state.continueByEmail;
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      receive(frame);
    };
    ws.onclose = function () {
      if (state.ws !== ws) return;
      statusLine.hidden = state.pending.length === 0;
      state.ready = false;
      state.ws = null;
      state.inFlight = null; // resent after the next welcome, with the same client id
      setTimeout(connect, state.retry);
      state.retry = Math.min(state.retry * 2, 10000);
    };
  }

  function receive(frame) {
    if (requests.take(frame)) return; // a request form's own frames: a section of its own below
    if (frame.type === "welcome") {
      save("token", frame.token);
      state.ready = true;
      state.online = frame.agents_online !== false;
      state.upload = frame.upload || null;
      offline.hidden = state.online || !!state.continueByEmail || !!(state.identity && state.identity.email);
      flush(); // resend what was not acknowledged: same client ids, in order
    } else if (frame.type === "message") {
      if (state.seen[frame.id]) return;
      state.seen[frame.id] = true;
      state.lastSeq = Math.max(state.lastSeq, frame.seq || 0);
      if (frame.direction === "in" && frame.client_id) {
        var mine = root.querySelector(".msg[data-client='" + cssEscape(frame.client_id) + "']:not([data-id])");
        if (mine) {
          mine.classList.remove("pending"); mine.setAttribute("data-id", frame.id);
          if (frame.files && frame.files.length && !mine.querySelector("a")) { mine.textContent = frame.text || ""; addFiles(mine, frame.files); stamp(mine, frame.created_at); }
          return;
        }
      }
      markStarted();
      if (frame.direction === "out") showTyping(null);
      bubble(frame.direction, frame.text, frame.direction === "out" ? frame.author : null, frame.id, frame.files, frame.created_at);
      if (frame.direction === "out") {
        emit("message", { text: frame.text, author: frame.author, id: frame.id });
        if (state.open) markRead(frame.id);
        else if (frame.id > state.read) { state.unread += 1; showUnread(); }
      }
    } else if (frame.type === "ack") {
      state.pending = state.pending.filter(function (p) { return p.client_id !== frame.client_id; });
      save("pending", state.pending);
      var el = root.querySelector(".msg.pending[data-client='" + cssEscape(frame.client_id) + "']");
      if (el && frame.id) { el.classList.remove("pending"); el.setAttribute("data-id", frame.id); state.seen[frame.id] = true; }
      if (state.inFlight === frame.client_id) { state.inFlight = null; flush(); }
    } else if (frame.type === "csat" || frame.type === "csat_done") {
      satisfaction(frame); // the survey's stars: a section of its own below
    } else if (frame.type === "typing") {
      showTyping(frame.author || t.someone);
    } else if (frame.type === "error" && (frame.code === "rate_limited" || frame.code === "unavailable")) {
      // Not stored: the same message is sent again, in its place, once the server says it may.
      var wait = frame.code === "rate_limited" ? Math.min(Math.max(Number(frame.retry_after) || 1, 0.05), 30) : 2;
      if (state.inFlight === frame.client_id) { state.inFlight = null; later(wait * 1000); }
    }
  }

  function showTyping(author) {
    clearTimeout(state.typingTimer);
    typingLine.textContent = author ? author + " " + t.typing : "";
    if (author) state.typingTimer = setTimeout(function () { typingLine.textContent = ""; }, 6000);
  }

  function sendFile(file) {
    if (!state.upload || !file) return;
    if (file.size > state.upload.max_bytes) { note(t.tooBig); return; }
    var clientId = newClientId();
    var div = bubble("in", file.name);
    div.classList.add("pending");
    div.setAttribute("data-client", cssEscape(clientId));
    var attempt = function (tries) {
      var body = new FormData();
      body.append("ticket", state.upload.ticket);
      body.append("client_id", clientId);
      body.append("file", file, file.name);
      fetch(state.upload.url, { method: "POST", body: body, credentials: "omit" }).then(function (response) {
        if (response.status === 413) { div.remove(); note(t.tooBig); return; }
        if (!response.ok) throw new Error(String(response.status));
        div.classList.remove("pending"); // the message frame then fills in the link
      }).catch(function () {
        if (tries < 4) setTimeout(function () { attempt(tries + 1); }, 1000 * (tries + 1)); // same client id: never doubled
        else { div.remove(); note(t.uploadFailed); }
      });
    };
    attempt(0);
  }

  function cssEscape(value) { return String(value).replace(/[^A-Za-z0-9_-]/g, "_"); }

  /* The outgoing queue: one message in flight at a time, the next sent on its ack, so the
     server stores them in the order they were written; each keeps its client id for every
     resend (after a reconnect, a rate limit or a lost ack), so none is stored twice. */
  function flush() {
    clearTimeout(state.flushTimer);
    state.flushTimer = null;
    if (!state.pending.length) { statusLine.hidden = true; return; }
    if (!state.ws) { connect(); return; }
    if (!state.ready || state.inFlight) return;
    var head = state.pending[0];
    var frame = { type: "message", client_id: head.client_id, text: head.text };
    var context = pageContext();
    if (JSON.stringify(context) !== state.contextSent) { frame.context = context; state.contextSent = JSON.stringify(context); }
    state.inFlight = head.client_id;
    state.ws.send(JSON.stringify(frame));
    var sent = head.client_id;
    state.flushTimer = setTimeout(function () { if (state.inFlight === sent) { state.inFlight = null; flush(); } }, 15000); // a lost ack
  }
  function later(ms) { statusLine.hidden = false; clearTimeout(state.flushTimer); state.flushTimer = setTimeout(flush, ms); }

  function pageContext() {
    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { /* old browser */ }
    return { url: String(location.href).slice(0, 2048), title: String(document.title || "").slice(0, 300),
             referrer: String(document.referrer || "").slice(0, 2048), language: String(navigator.language || "").slice(0, 35), time_zone: zone };
  }

  function markStarted() { if (!load("started")) save("started", true); }
  function markRead(id) { if (id > state.read) { state.read = id; save("read", id); } }
  function newestAgentMessage() {
    var newest = 0;
    Array.prototype.forEach.call(log.querySelectorAll(".msg.out[data-id]"), function (m) { newest = Math.max(newest, Number(m.getAttribute("data-id")) || 0); });
    return newest;
  }

  function newClientId() {
    var bytes = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    var reconnecting = false;
    if (!offline.hidden && emailInput.value) {
      reconnecting = true; // the message goes after the new hello, which carries the email
      state.continueByEmail = emailInput.value.trim();
      save("continue", state.continueByEmail);
      offline.hidden = true;
      state.ready = false;
      if (state.ws) state.ws.close(); // say hello again with the email
    }
    requests.dismiss(); // the visitor chose to write instead of picking a request type
    var pending = { client_id: newClientId(), text: text };
    state.pending.push(pending);
    save("pending", state.pending);
    markStarted();
    bubble("in", text).classList.add("pending");
    log.lastChild.setAttribute("data-client", cssEscape(pending.client_id));
    input.value = "";
    if (!reconnecting) flush();
  });
  attachButton.addEventListener("click", function () { fileInput.click(); });
  fileInput.addEventListener("change", function () {
    Array.prototype.forEach.call(fileInput.files || [], sendFile);
    fileInput.value = "";
  });
  input.addEventListener("input", function () {
    var now = Date.now();
    if (state.ws && state.ready && input.value && now - state.typingSent > 3000) {
      state.typingSent = now;
      state.ws.send(JSON.stringify({ type: "typing" }));
    }
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit")); }
  });

  // -- request forms (the service catalogue) before the first message: requestForms() below --------
  var requests = requestForms();

  // -- help articles while the visitor types (before anything is sent) -------------------------
  suggestArticles(root, root.querySelector(".panel"), form, input, lang, CONFIG.endpoint);

  // -- opening and closing ------------------------------------------------------------------
  function open() {
    state.open = true;
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    if (!state.ws) connect(); // the first socket of a new visitor opens here, not on page view
    showPrechat();
    log.scrollTop = log.scrollHeight; // at the newest message (a hidden log has no height to scroll)
    markRead(newestAgentMessage());
    state.unread = 0;
    showUnread();
    (form.hidden ? prechatForm.querySelector("input") : input).focus();
  }
  function close() {
    state.open = false;
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }
  launcher.addEventListener("click", function () { state.open ? close() : open(); });
  closeButton.addEventListener("click", close);
  panel.addEventListener("keydown", function (event) { if (event.key === "Escape") close(); });

  // -- the satisfaction survey: frames "csat" (asked) and "csat_done" (answered); docs/csat.md ----
  // A star press is the rating; then the box offers a comment (a "csat" frame with the comment alone).
  var CSAT_TEXT = {
    en: { comment: "Add a comment (optional)", send: "Send comment", star: " of 5", rated: "Thank you for your rating!",
          commented: "Thank you, your comment is added.", has_comment: "Your rating already has a comment. Thank you!",
          already_rated: "You already rated this. Thank you!", expired: "This survey has expired." },
    es: { comment: "Añadir un comentario (opcional)", send: "Enviar comentario", star: " de 5", rated: "¡Gracias por su valoración!",
          commented: "Gracias, su comentario se ha añadido.", has_comment: "Su valoración ya tiene un comentario. ¡Gracias!",
          already_rated: "Ya la valoró. ¡Gracias!", expired: "Esta encuesta ha caducado." }
  }[lang];
  var csatStyle = document.createElement("style");
  csatStyle.textContent =
    ".csat{align-self:stretch;background:#fff;border:1px solid #e3e6ec;border-radius:12px;padding:10px 12px;display:flex;flex-direction:column;gap:8px}" +
    ".csat p{margin:0}.csat .stars{display:flex;gap:6px}" +
    ".csat .star{flex:1;font-size:24px;line-height:1;padding:6px 0;border:1px solid #cdd3dd;border-radius:10px;background:#fff;color:#b7791f;cursor:pointer}" +
    ".csat .star small{display:block;font-size:12px;color:#5d6678;margin-top:2px}" +
    ".csat .star:hover,.csat .star:focus-visible{border-color:#b7791f;background:#fff8eb}" +
    ".csat textarea{width:100%;flex:none;border:1px solid #cdd3dd;border-radius:8px;padding:7px 9px;font-size:14px;max-height:none}" +
    ".csat .row{display:flex;justify-content:flex-end}";
  root.appendChild(csatStyle);
  function satisfaction(frame) {
    var box = root.querySelector(".csat");
    if (frame.type === "csat_done") {
      if (frame.outcome === "rated" && box && box.getAttribute("data-comment") !== "sent") { commentForm(box); return; }
      if (box) box.parentNode.removeChild(box);
      note(CSAT_TEXT[frame.outcome] || CSAT_TEXT.expired);
      return;
    }
    if (box || typeof frame.token !== "string") return;
    box = document.createElement("div");
    box.className = "csat";
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", String(frame.question || ""));
    box.setAttribute("data-token", frame.token);
    var question = document.createElement("p");
    question.textContent = String(frame.question || "");
    var stars = document.createElement("div");
    stars.className = "stars";
    var labels = Array.isArray(frame.labels) ? frame.labels : [];
    [1, 2, 3, 4, 5].forEach(function (n) {
      var star = document.createElement("button");
      star.type = "button";
      star.className = "star";
      star.textContent = "\u2605";
      var digit = document.createElement("small");
      digit.textContent = String(n); // which star is which, at a glance (the accessible name says it in words)
      star.appendChild(digit);
      star.setAttribute("aria-label", String(labels[n - 1] || n + CSAT_TEXT.star));
      star.setAttribute("title", String(labels[n - 1] || n + CSAT_TEXT.star));
      star.addEventListener("click", function () {
        if (!state.ws || !state.ready) return;
        stars.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
        state.ws.send(JSON.stringify({ type: "csat", token: frame.token, rating: n }));
      });
      stars.appendChild(star);
    });
    box.appendChild(question);
    box.appendChild(stars);
    log.appendChild(box);
    log.scrollTop = log.scrollHeight;
  }
  function commentForm(box) {
    var token = box.getAttribute("data-token");
    while (box.firstChild) box.removeChild(box.firstChild);
    box.setAttribute("aria-label", CSAT_TEXT.rated);
    var thanks = document.createElement("p");
    thanks.textContent = CSAT_TEXT.rated;
    var comment = document.createElement("textarea");
    comment.rows = 2;
    comment.maxLength = 2000;
    comment.setAttribute("aria-label", CSAT_TEXT.comment);
    comment.setAttribute("placeholder", CSAT_TEXT.comment);
    var row = document.createElement("div");
    row.className = "row";
    var send = document.createElement("button");
    send.type = "button";
    send.className = "send";
    send.textContent = CSAT_TEXT.send;
    send.addEventListener("click", function () {
      if (!comment.value.trim() || !state.ws || !state.ready) { comment.focus(); return; }
      send.disabled = true;
      box.setAttribute("data-comment", "sent");
      state.ws.send(JSON.stringify({ type: "csat", token: token, comment: comment.value }));
    });
    row.appendChild(send);
    box.appendChild(thanks);
    box.appendChild(comment);
    box.appendChild(row);
    comment.focus();
    log.scrollTop = log.scrollHeight;
  }

  // -- the page API ---------------------------------------------------------------------------
  var api = {
    open: open,
    close: close,
    identify: function (identity) {
      if (!identity || !identity.id) return;
      state.identity = { id: String(identity.id), email: identity.email || null, name: identity.name || null, hmac: identity.hmac || null };
      save("identity", state.identity);
      if (state.ws) { state.ready = false; state.ws.close(); } // reconnect: hello carries the identity
    },
    on: function (name, fn) { (listeners[name] = listeners[name] || []).push(fn); }
  };
  var queued = (window.Frontdesk && window.Frontdesk.q) || [];
  window.Frontdesk = api;
  queued.forEach(function (call) { if (api[call[0]]) api[call[0]].apply(null, call[1] || []); });

  /* Published help-center articles matching what the visitor is typing, shown above the
     message box. Public search endpoint, debounced, only the newest answer shown; the
     message itself is not sent anywhere until the visitor presses Send. */
  function suggestArticles(root, panel, form, input, lang, endpoint) {
    var words = { en: { title: "These articles may help" }, es: { title: "Estos artículos pueden ayudarte" } }[lang];
    var style = document.createElement("style");
    style.textContent =
      ".kb{border-top:1px solid #e3e6ec;background:#fff;padding:8px 12px;max-height:40%;overflow-y:auto}" +
      ".kb[hidden]{display:none}.kb h3{margin:0 0 4px;font-size:12px;font-weight:600;color:#5d6678;text-transform:uppercase;letter-spacing:.03em}" +
      ".kb ul{list-style:none;margin:0;padding:0}.kb li{margin:0;padding:5px 0;border-top:1px solid #f0f2f5}.kb li:first-child{border-top:0}" +
      ".kb a{color:#1f49b6;font-size:14px;font-weight:600;text-decoration:none}.kb a:hover,.kb a:focus{text-decoration:underline}" +
      ".kb p{margin:1px 0 0;font-size:12.5px;color:#5d6678;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}";
    root.appendChild(style);
    var box = document.createElement("section");
    box.className = "kb";
    box.hidden = true;
    box.setAttribute("aria-label", words.title);
    box.setAttribute("aria-live", "polite");
    var heading = document.createElement("h3");
    heading.textContent = words.title;
    var list = document.createElement("ul");
    box.appendChild(heading);
    box.appendChild(list);
    panel.insertBefore(box, panel.querySelector(".offline"));
    var timer = null, asked = 0, last = "";

    function show(items) {
      list.textContent = "";
      items.forEach(function (item) {
        var li = document.createElement("li");
        var a = document.createElement("a");
        a.href = item.url;
        a.target = "_blank";
        a.rel = "noopener";
        a.textContent = item.title;
        li.appendChild(a);
        if (item.summary) { var p = document.createElement("p"); p.textContent = item.summary; li.appendChild(p); }
        list.appendChild(li);
      });
      box.hidden = items.length === 0;
    }

    function search(text) {
      var mine = ++asked;
      var url = endpoint + "/api/v1/kb/search?prefix=true&limit=3&lang=" + lang + "&q=" + encodeURIComponent(text);
      fetch(url, { credentials: "omit", mode: "cors" })
        .then(function (r) { return r.ok ? r.json() : { items: [] }; })
        .then(function (data) { if (mine === asked) show(data.items || []); })
        .catch(function () { /* suggestions are a bonus: stay quiet */ });
    }

    input.addEventListener("input", function () {
      var text = input.value.trim().slice(0, 200);
      clearTimeout(timer);
      if (text.length < 3) { asked++; last = ""; show([]); return; }
      if (text === last) return;
      timer = setTimeout(function () { last = text; search(input.value.slice(0, 200)); }, 300);
    });
    form.addEventListener("submit", function () { clearTimeout(timer); asked++; last = ""; show([]); });
  }

  /* Request types the channel offers (welcome.request_types): "What can we help with?" before
     the first message, then the chosen type's form, sent as one `request` frame (its client id
     kept for every resend, so it is stored once). The server checks the answers as the portal
     does; an error frame names the field, shown at it. Files are added in the portal (a link).
     take(frame) answers whether the frame was this section's alone. */
  function requestForms() {
    var words = {
      en: { title: "What can we help with?", other: "Something else", back: "Back", send: "Send request",
            sending: "Sending…", choose: "Choose…", required: "required", files: "Add files to this request in the portal",
            approval: "This request needs an approval before work starts.", sent: "Thank you. Your request was received.",
            retry: "The request could not be sent. Try again." },
      es: { title: "¿En qué podemos ayudarte?", other: "Otra cosa", back: "Volver", send: "Enviar solicitud",
            sending: "Enviando…", choose: "Elige…", required: "obligatorio", files: "Añade archivos a esta solicitud en el portal",
            approval: "Esta solicitud necesita una aprobación antes de empezar.", sent: "Gracias. Hemos recibido tu solicitud.",
            retry: "No se pudo enviar la solicitud. Inténtalo de nuevo." }
    }[lang];
    var style = document.createElement("style");
    style.textContent =
      ".rq{align-self:stretch;align-items:stretch;background:#fff;border:1px solid #e3e6ec;border-radius:12px;padding:10px 12px;display:flex;flex-direction:column;gap:8px}" +
      ".rq h3{margin:0;font-size:15px;font-weight:600}.rq p{margin:0;font-size:13px;color:#5d6678}" +
      ".rq .pick{text-align:left;background:#fff;border:1px solid #cdd3dd;border-radius:10px;padding:8px 10px;font-size:14px;color:#1d2330;cursor:pointer}" +
      ".rq .pick small{display:block;color:#5d6678;font-size:12.5px}" +
      ".rq label{font-size:13px;display:flex;flex-direction:column;gap:3px;color:#1d2330}" +
      ".rq input,.rq select,.rq textarea{border:1px solid #cdd3dd;border-radius:8px;padding:7px 9px;font-size:14px;color:#1d2330;background:#fff;width:100%;max-height:none}" +
      ".rq [aria-invalid=true]{border-color:#d92d20}.rq .err{color:#b42318;font-size:12.5px}.rq .err:empty{display:none}" +
      ".rq .row{display:flex;gap:8px;justify-content:flex-end}.rq .back{background:transparent;border:1px solid #cdd3dd;border-radius:10px;padding:8px 12px;cursor:pointer;color:#1d2330}" +
      ".rq a{color:#1f49b6;font-size:13px}";
    root.appendChild(style);
    var types = [], box = null, sending = null, timer = null;

    function remove() { if (box && box.parentNode) box.parentNode.removeChild(box); box = null; }
    function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text) e.textContent = text; return e; }
    function place() { log.appendChild(box); log.scrollTop = log.scrollHeight; }

    function picker() {
      remove();
      box = el("div", "rq");
      box.setAttribute("role", "group");
      box.setAttribute("aria-label", words.title);
      box.appendChild(el("h3", null, words.title));
      types.forEach(function (type) {
        var b = el("button", "pick", String(type.name || ""));
        b.type = "button";
        if (type.description) b.appendChild(el("small", null, String(type.description)));
        b.addEventListener("click", function () { show(type); });
        box.appendChild(b);
      });
      var other = el("button", "pick", words.other);
      other.type = "button";
      other.addEventListener("click", function () { remove(); input.focus(); });
      box.appendChild(other);
      place();
    }

    function show(type) {
      remove();
      box = el("form", "rq");
      box.noValidate = true;
      box.setAttribute("aria-label", String(type.name || ""));
      box.appendChild(el("h3", null, String(type.name || "")));
      if (type.description) box.appendChild(el("p", null, String(type.description)));
      if (type.approval) box.appendChild(el("p", null, words.approval));
      var inputs = {};
      (Array.isArray(type.fields) ? type.fields : []).forEach(function (f) {
        var id = "rq-" + cssEscape(f.name);
        if (f.kind === "attachment") {
          var link = el("a", null, String(f.label || f.name) + ": " + words.files);
          link.href = CONFIG.endpoint + "/portal";
          link.target = "_blank";
          link.rel = "noopener";
          box.appendChild(link);
          return;
        }
        var label = el("label", null, String(f.label || f.name) + (f.required ? " (" + words.required + ")" : ""));
        var control;
        if (f.kind === "long_text") { control = el("textarea"); control.rows = 3; control.maxLength = 10000; }
        else if (f.kind === "choice") {
          control = el("select");
          control.appendChild(el("option", null, words.choose)).value = "";
          (f.choices || []).forEach(function (c) { control.appendChild(el("option", null, String(c))).value = String(c); });
        } else { control = el("input"); control.type = f.kind === "date" ? "date" : "text"; if (f.kind !== "date") control.maxLength = 500; }
        control.name = f.name;
        control.id = id;
        control.required = !!f.required;
        var err = el("span", "err");
        err.id = id + "-error";
        control.setAttribute("aria-describedby", err.id);
        function answered() { err.textContent = ""; control.removeAttribute("aria-invalid"); } // a message about the old answer goes with it
        control.addEventListener("input", answered);
        control.addEventListener("change", answered);
        label.appendChild(control);
        box.appendChild(label);
        box.appendChild(err); // outside the label: described by it, not named by it
        inputs[f.name] = { control: control, error: err };
      });
      var row = el("div", "row");
      var back = el("button", "back", words.back);
      back.type = "button";
      back.addEventListener("click", function () { sending = null; picker(); });
      var submit = el("button", "send", words.send);
      submit.type = "submit";
      row.appendChild(back);
      var portalOnly = (type.fields || []).some(function (f) { return f.kind === "attachment" && f.required; });
      if (!portalOnly) row.appendChild(submit); // a file it must have is added in the portal, so it is sent from there
      box.appendChild(row);
      box.addEventListener("submit", function (event) {
        event.preventDefault();
        if (sending) return;
        var fields = {};
        Object.keys(inputs).forEach(function (name) {
          inputs[name].error.textContent = "";
          inputs[name].control.removeAttribute("aria-invalid");
          if (inputs[name].control.value.trim()) fields[name] = inputs[name].control.value;
        });
        sending = { frame: { type: "request", client_id: newClientId(), request_type: type.name, fields: fields, context: pageContext() },
                    inputs: inputs, submit: submit };
        submit.disabled = true;
        submit.textContent = words.sending;
        send();
      });
      place();
      var first = box.querySelector("input,select,textarea,a");
      (first || back).focus();
    }

    function send() {
      clearTimeout(timer);
      if (!sending) return;
      if (state.ws && state.ready) state.ws.send(JSON.stringify(sending.frame));
      else connect(); // sent again after the welcome, with the same client id
    }
    function refused(frame) {
      var at = sending.inputs[frame.field];
      sending.submit.disabled = false;
      sending.submit.textContent = words.send;
      if (at) { at.error.textContent = String(frame.message || ""); at.control.setAttribute("aria-invalid", "true"); at.control.focus(); }
      else note(String(frame.message || words.retry));
      sending = null;
    }

    return {
      take: function (frame) {
        if (frame.type === "welcome") {
          types = Array.isArray(frame.request_types) ? frame.request_types : [];
          if (sending) setTimeout(send, 0); // after the chat's own welcome handling
          else if (types.length && !box && !load("started")) picker();
          return false;
        }
        if (frame.type === "message") { if (!sending && box && box.className === "rq" && box.tagName === "DIV") remove(); return false; }
        if (!sending || frame.client_id !== sending.frame.client_id) return false;
        if (frame.type === "ack") {
          sending = null;
          remove();
          markStarted();
          note(words.sent);
          return true;
        }
        if (frame.type === "error") {
          if (frame.code === "rate_limited" || frame.code === "unavailable") {
            timer = setTimeout(send, 1000 * Math.min(Math.max(Number(frame.retry_after) || 2, 0.05), 30));
          } else refused(frame);
          return true;
        }
        return false;
      },
      dismiss: function () { if (!sending) remove(); }
    };
  }

  // A page view costs no socket: only a visitor with a conversation (or unsent messages)
  // connects at once, to hear replies; everyone else when they first open the panel.
  function mount() {
    document.body.appendChild(host);
    if (load("started") || state.pending.length) connect();
    window.dispatchEvent(new Event("frontdesk:ready"));
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
