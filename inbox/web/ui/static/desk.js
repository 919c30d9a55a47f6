// The agent's desk in the browser: times in the agent's own time zone (and relative), the
// unread count in the tab's title, desktop notifications and a short sound for new customer
// messages, and "Undo" for ten seconds after resolving from the inbox.
// ui.js owns the live stream; it tells this file about frames ("fd:event") and about rows
// or a timeline it swapped in ("fd:updated").
(function () {
  "use strict";
  var body = document.body;
  var lang = document.documentElement.lang || "en";
  var MINUTE = 60000, HOUR = 60 * MINUTE, DAY = 24 * HOUR;

  // ---- times --------------------------------------------------------------
  function fmt(options) {
    try { return new Intl.DateTimeFormat(lang, options); } catch (e) { return new Intl.DateTimeFormat(undefined, options); }
  }
  var timeOnly = fmt({ hour: "2-digit", minute: "2-digit" });
  var dayAndTime = fmt({ day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  var full = fmt({ dateStyle: "full", timeStyle: "long" });
  var rtf = null;
  try { rtf = new Intl.RelativeTimeFormat(lang, { numeric: "auto", style: "short" }); } catch (e) { rtf = null; }

  function unitOf(ms) {
    var abs = Math.abs(ms);
    if (abs < HOUR) { return [Math.round(ms / MINUTE), "minute"]; }
    if (abs < DAY) { return [Math.round(ms / HOUR), "hour"]; }
    return [Math.round(ms / DAY), "day"];
  }
  // "5 min", "3 h", "2 d": how long (a wait).
  function duration(ms) {
    var u = unitOf(Math.max(ms, 0));
    try { return new Intl.NumberFormat(lang, { style: "unit", unit: u[1], unitDisplay: "short" }).format(u[0]); }
    catch (e) { return u[0] + " " + u[1]; }
  }
  // "5 min ago" / "hace 5 min", "in 20 min" / "dentro de 20 min": when, from now.
  function relative(ms) {
    var u = unitOf(ms);
    return rtf ? rtf.format(u[0], u[1]) : duration(Math.abs(ms));
  }
  function local(when) {
    var now = new Date();
    return when.toDateString() === now.toDateString() ? timeOnly.format(when) : dayAndTime.format(when);
  }

  function localiseTimes(root) {
    var now = Date.now();
    (root || document).querySelectorAll("time[datetime]").forEach(function (el) {
      var iso = el.getAttribute("datetime");
      if (iso.indexOf("T") < 0) { return; }  // a date alone stays as written
      var when = new Date(iso);
      if (isNaN(when)) { return; }
      el.title = full.format(when);
      if (el.hasAttribute("data-duration")) { el.textContent = duration(now - when.getTime()); }
      else if (el.hasAttribute("data-relative")) { el.textContent = relative(when.getTime() - now); }
      else { el.textContent = local(when); }
    });
    (root || document).querySelectorAll("[data-ago]").forEach(function (el) {
      var when = new Date(el.getAttribute("data-ago"));
      if (!isNaN(when)) { el.textContent = "· " + relative(when.getTime() - now); }
    });
  }

  // ---- the unread count in the title ---------------------------------------
  function updateTitle() {
    if (body.dataset.page !== "inbox" || !body.dataset.title) { return; }
    var n = document.querySelectorAll("tbody[data-rows-body] tr.unread").length;
    document.title = (n ? "(" + n + ") " : "") + body.dataset.title;
  }

  // ---- notifications and sound -------------------------------------------
  var button = document.querySelector("[data-enable-notifications]");
  var soundBox = document.querySelector("[data-sound]");
  var audio = null;
  function soundOn() { try { return localStorage.getItem("fd-sound") === "on"; } catch (e) { return false; } }
  function audioContext() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!audio && Ctx) { audio = new Ctx(); }
    return audio;
  }
  // Two short sine notes, made on the spot (no sound file to fetch).
  function ring() {
    var ctx = audioContext();
    if (!ctx) { return; }
    if (ctx.state === "suspended") { ctx.resume(); }
    [[880, 0], [1320, 0.12]].forEach(function (note) {
      var osc = ctx.createOscillator(), gain = ctx.createGain(), at = ctx.currentTime + note[1];
      osc.type = "sine";
      osc.frequency.value = note[0];
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.2, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.18);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.2);
    });
  }
  function showPermission() {
    if (!button) { return; }
    if (!("Notification" in window)) { button.hidden = true; return; }
    if (Notification.permission === "granted") { button.textContent = button.dataset.on; button.disabled = true; }
    else if (Notification.permission === "denied") { button.textContent = button.dataset.denied; button.disabled = true; }
  }
  if (button) {
    showPermission();
    button.addEventListener("click", function () {
      audioContext();  // made in a click, so the browser lets it play later
      var asked = Notification.requestPermission(showPermission);
      if (asked && asked.then) { asked.then(showPermission); }
    });
  }
  if (soundBox) {
    soundBox.checked = soundOn();
    soundBox.addEventListener("change", function () {
      try { localStorage.setItem("fd-sound", soundBox.checked ? "on" : "off"); } catch (e) { /* not kept */ }
      if (soundBox.checked) { ring(); }
    });
  }
  var waitingNotice = [];  // conversations with a new customer message, told once the rows show them
  function announce() {
    var ids = waitingNotice;
    waitingNotice = [];
    ids.forEach(function (id) {
      if (body.dataset.conversation === String(id) && !document.hidden) { return; }  // the agent is reading it
      var row = document.querySelector('tbody[data-rows-body] tr[data-id="' + id + '"]');
      var title = (button && button.dataset.new) || "New message";
      var text = row ? row.dataset.name + ": " + (row.querySelector(".about a") || row).textContent.trim() : "#" + id;
      if (soundOn()) { ring(); }
      if ("Notification" in window && Notification.permission === "granted") {
        var n = new Notification(title, { body: text.slice(0, 160), tag: "fd-conversation-" + id });
        n.onclick = function () { window.focus(); location.href = "/conversations/" + id; };
      }
      body.dataset.lastNotified = String(id);
    });
  }
  document.addEventListener("fd:event", function (e) {
    var ev = e.detail || {};
    if (ev.type === "message.created" && ev.payload && ev.payload.direction === "in" && ev.conversation_id) {
      waitingNotice.push(ev.conversation_id);
      if (body.dataset.page !== "inbox") { announce(); }  // no rows to wait for
    }
  });
  document.addEventListener("fd:updated", function (e) {
    localiseTimes(e.target instanceof Element ? e.target : document);
    updateTitle();
    announce();
  });

  // ---- resolve from the inbox, then "Undo" for ten seconds ------------------
  var toast = document.querySelector("[data-toast]");
  var toastTimer = null;
  function post(url, fields) {
    var data = new FormData();
    data.append("csrf", body.dataset.csrf || "");
    Object.keys(fields).forEach(function (k) { if (fields[k] !== null && fields[k] !== undefined) { data.append(k, fields[k]); } });
    return fetch(url, { method: "POST", body: data, credentials: "same-origin", headers: { Accept: "application/json" } });
  }
  function say(text, undo) {
    if (!toast) { return; }
    clearTimeout(toastTimer);
    toast.querySelector("[data-toast-text]").textContent = text;
    var undoButton = toast.querySelector("[data-undo]");
    undoButton.hidden = !undo;
    undoButton.onclick = undo || null;
    toast.hidden = false;
    toastTimer = setTimeout(function () { toast.hidden = true; undoButton.onclick = null; }, 10000);
    if (undo) { undoButton.focus({ preventScroll: true }); }
  }
  function refresh() { if (window.fdRefreshRows) { window.fdRefreshRows(); } }
  window.fdResolve = function (row) {
    var id = row.dataset.id;
    post("/conversations/" + id + "/resolve", {}).then(function (r) { return r.ok ? r.json() : null; }).then(function (done) {
      if (!done) { return; }
      refresh();
      say(toast.dataset.resolved.replace("{id}", id), function () {
        post("/conversations/" + id + "/undo-resolve", { previous: done.previous, snoozed_until: done.snoozed_until }).then(function (r) {
          say(r.ok ? toast.dataset.undone : toast.dataset.undoFailed, null);
          refresh();
        });
      });
    });
  };

  // The row's own "Resolve" button: the same as `e` on it (with its Undo); without this
  // script the form posts and the inbox comes back.
  document.addEventListener("submit", function (e) {
    var form = e.target.closest && e.target.closest("form[data-row-resolve]");
    var row = form && form.closest("tr[data-id]");
    if (!row || !toast) { return; }
    e.preventDefault();
    window.fdResolve(row);
  });

  // ---- a table wider than a phone scrolls inside itself: the keyboard can scroll it too --
  function focusableScrollers() {
    document.querySelectorAll("table.list").forEach(function (table) {
      if (table.scrollWidth > table.clientWidth + 1) { table.tabIndex = 0; table.dataset.scrolls = ""; }
      else if ("scrolls" in table.dataset) { table.removeAttribute("tabindex"); delete table.dataset.scrolls; }
    });
  }
  window.addEventListener("resize", focusableScrollers);

  focusableScrollers();
  localiseTimes(document);
  updateTitle();
  setInterval(function () { localiseTimes(document); }, MINUTE);
})();
