// Frontdesk agent UI: live updates over /api/v1/stream, keyboard shortcuts, presence.
// Plain JavaScript; every change still goes through the server-rendered forms (CSRF).
(function () {
  "use strict";
  var body = document.body;
  var csrf = body.dataset.csrf || "";
  var pageKind = body.dataset.page || "";

  function typingTarget(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  // ---- live updates -------------------------------------------------------
  var refreshTimer = null;
  function refreshSoon(fn) {
    // Several events in a burst cause one re-read.
    if (refreshTimer) { clearTimeout(refreshTimer); }
    refreshTimer = setTimeout(fn, 150);
  }

  function refreshRows() {
    var tbody = document.querySelector("[data-rows-body]");
    if (!tbody) { return; }
    fetch(body.dataset.rows, { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (html === null) { return; }
      var selected = current() ? current().dataset.id : null;
      tbody.innerHTML = html;
      tbody.dispatchEvent(new CustomEvent("fd:updated", { bubbles: true }));
      rememberOrder();
      if (selected) { select(tbody.querySelector('tr[data-id="' + selected + '"]')); }
    });
  }

  function refreshTabs() {
    // The saved views' counts follow the list (one count query per tab, server-side).
    var tabs = document.querySelector("[data-view-tabs]");
    if (!tabs) { return; }
    fetch(tabs.dataset.src, { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (html !== null) { tabs.innerHTML = html; }
    });
  }

  function bumpBell() {
    var bell = document.querySelector("[data-bell]");
    if (!bell) { return; }
    var badge = bell.querySelector("[data-bell-count]");
    if (!badge) {
      badge = document.createElement("span");
      badge.className = "badge";
      badge.setAttribute("data-bell-count", "");
      badge.textContent = "0";
      bell.appendChild(badge);
    }
    badge.textContent = String(parseInt(badge.textContent, 10) + 1);
    bell.setAttribute("aria-label", bell.getAttribute("aria-label").replace(/ \(.*\)$/, "") + " (" + badge.textContent + ")");
  }

  function refreshTimeline() {
    var list = document.querySelector("[data-timeline]");
    if (!list) { return; }
    fetch("/conversations/" + body.dataset.conversation + "/timeline", { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (html !== null) { list.innerHTML = html; list.dispatchEvent(new CustomEvent("fd:updated", { bubbles: true })); }
    });
  }
  window.fdRefreshRows = refreshRows;

  function connect(after, delay) {
    if (!("WebSocket" in window) || !pageKind) { return; }
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/api/v1/stream?after=" + after);
    var last = after;
    var status = document.querySelector("[data-live-status]");
    socket.onopen = function () {
      delay = 1000;
      body.dataset.live = "on";
      if (status) { status.textContent = status.dataset.on; }
    };
    socket.onmessage = function (frame) {
      var event;
      try { event = JSON.parse(frame.data); } catch (e) { return; }
      if (typeof event.seq === "number") { last = Math.max(last, event.seq); }
      if (event.type === "heartbeat") { return; }
      document.dispatchEvent(new CustomEvent("fd:event", { detail: event }));
      if (event.type === "signal.typing") {
        if (event.from === "contact" && pageKind === "conversation" && String(event.conversation_id) === body.dataset.conversation) {
          customerTyping(event.author);
        }
        return;
      }
      if (event.type && event.type.indexOf("signal.") === 0) { return; }
      if (event.type === "notification.created") { bumpBell(); return; }
      if (pageKind === "inbox" && /^(message|conversation|ticket)\./.test(event.type)) {
        refreshSoon(function () { refreshRows(); refreshTabs(); });
      } else if (pageKind === "conversation" && String(event.conversation_id) === body.dataset.conversation) {
        refreshSoon(refreshTimeline);
      }
    };
    socket.onclose = function (closed) {
      // 4401: the session ended (signed out, elsewhere too, or a new password): sign in again.
      if (closed.code === 4401) { location.assign("/login"); return; }
      body.dataset.live = "off";
      if (status) { status.textContent = status.dataset.off; }
      // Reconnect with the last seq seen: the server replays what was missed.
      setTimeout(function () { connect(last, Math.min(delay * 2, 30000)); }, delay);
    };
  }
  connect(parseInt(body.dataset.seq || "0", 10), 1000);

  // ---- the inbox's order, remembered so j/k also work inside a conversation --
  function rememberOrder() {
    try {
      sessionStorage.setItem("fd-order", JSON.stringify(rows().map(function (r) { return r.dataset.id; })));
      sessionStorage.setItem("fd-inbox", location.pathname + location.search);
    } catch (e) { /* storage disabled: j/k then return to the inbox */ }
  }
  function neighbour(step) {
    try {
      var order = JSON.parse(sessionStorage.getItem("fd-order") || "[]");
      var i = order.indexOf(body.dataset.conversation);
      if (i >= 0 && order[i + step]) { return "/conversations/" + order[i + step]; }
      return sessionStorage.getItem("fd-inbox") || "/";
    } catch (e) { return "/"; }
  }

  // ---- inbox selection and shortcuts --------------------------------------
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tbody[data-rows-body] tr[data-id]")); }
  function current() { return document.querySelector("tbody[data-rows-body] tr.selected"); }
  function select(row) {
    var old = current();
    if (old) { old.classList.remove("selected"); old.removeAttribute("aria-selected"); }
    if (row) {
      row.classList.add("selected");
      row.setAttribute("aria-selected", "true");
      row.scrollIntoView({ block: "nearest" });
    }
  }
  function move(step) {
    var all = rows();
    if (!all.length) { return; }
    var i = all.indexOf(current());
    select(all[Math.max(0, Math.min(all.length - 1, i + step))]);
  }
  function submitFor(action, id) {
    var form = document.querySelector('form[data-action="' + action + '"]');
    if (!form) { return; }
    if (id) { form.action = "/conversations/" + id + "/update"; }
    form.submit();
  }

  // ---- the header's "More" menu: Escape or a click elsewhere closes it ------
  function closeMenus(except) {
    document.querySelectorAll("details[data-navmore][open]").forEach(function (menu) {
      if (menu !== except) { menu.open = false; }
    });
  }
  document.addEventListener("click", function (e) {
    closeMenus(e.target.closest ? e.target.closest("details[data-navmore]") : null);
  });
  document.addEventListener("focusin", function (e) {
    closeMenus(e.target.closest ? e.target.closest("details[data-navmore]") : null);
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") { return; }
    var menu = e.target.closest && e.target.closest("details[data-navmore][open]");
    if (menu) { menu.open = false; menu.querySelector("summary").focus(); e.preventDefault(); }
  });

  var help = document.getElementById("help");
  document.addEventListener("click", function (e) {
    if (e.target.closest && e.target.closest("[data-help]") && help) { help.showModal(); }
  });

  // ---- bulk bar: "select all on this page" toggles the rows' boxes ---------
  // The bar's controls show once something is ticked (a row, or every row of the view).
  function syncBulk() {
    var bar = document.querySelector("[data-bulk]");
    if (bar) { bar.classList.toggle("active", !!document.querySelector("[data-bulk-row]:checked, [data-bulk-all]:checked")); }
  }
  document.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches("[data-bulk-page]")) {
      document.querySelectorAll("[data-bulk-row]").forEach(function (box) { box.checked = e.target.checked; });
    }
    syncBulk();
  });

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typingTarget(e.target)) { return; }
    // Enter on a focused button or link is that control's (a row's Resolve, the toast's Undo);
    // not when the control is in a dialog that has closed (Chromium may leave the focus on the
    // help's Close button after Escape).
    if (e.key === "Enter" && e.target.closest && e.target.closest("button, a[href], summary") && !e.target.closest("dialog:not([open])")) { return; }
    if (help && help.open) { return; }
    var key = e.key;
    if (key === "?") { if (help) { help.showModal(); } e.preventDefault(); return; }
    if (key === "/") {
      var search = document.querySelector("[data-search]");
      if (search) { search.focus(); e.preventDefault(); }
      return;
    }
    if (pageKind === "inbox") {
      var row = current();
      if (key === "j") { move(1); } else if (key === "k") { move(-1); }
      else if ((key === "Enter" || key === "o") && row) { location.href = "/conversations/" + row.dataset.id; }
      else if (key === "r" && row) { location.href = "/conversations/" + row.dataset.id + "#text"; }
      else if (key === "e" && row) { if (window.fdResolve) { window.fdResolve(row); } else { submitFor("resolve", row.dataset.id); } }
      else if (key === "a" && row) { submitFor("assign", row.dataset.id); }
      else if (key === "x" && row) { var box = row.querySelector("[data-bulk-row]"); if (box) { box.checked = !box.checked; syncBulk(); } }
      else { return; }
      e.preventDefault();
    } else if (pageKind === "conversation") {
      if (key === "r") { document.getElementById("text").focus(); }
      else if (key === "e") { submitFor("resolve"); }
      else if (key === "a") { submitFor("assign"); }
      else if (key === "m") { var picker = document.getElementById("macro"); if (picker) { picker.focus(); } }
      else if (key === "j" || key === "k") { location.href = neighbour(key === "j" ? 1 : -1); }
      else { return; }
      e.preventDefault();
    }
  });

  document.addEventListener("click", function (e) {
    var row = e.target.closest && e.target.closest("tbody[data-rows-body] tr[data-id]");
    if (row && e.target.tagName !== "A") { select(row); }
  });

  // ---- conversation: presence (the reply box itself is static/reply.js) ---
  var text = document.getElementById("text");
  if (pageKind === "conversation" && location.hash === "#text" && text) { text.focus(); }

  var presence = document.querySelector("[data-presence]");
  var customer = document.querySelector("[data-customer-typing]");
  var customerTimer = null;
  function customerTyping(name) {
    if (!customer) { return; }
    customer.textContent = (name || customer.dataset.someone) + " " + customer.dataset.typing;
    clearTimeout(customerTimer);
    customerTimer = setTimeout(function () { customer.textContent = ""; }, 6000);
  }
  if (presence) {
    var typingUntil = 0;
    var report = function (state) {
      fetch("/conversations/" + body.dataset.conversation + "/presence?state=" + state, {
        method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf }, keepalive: state === "gone"
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
        if (!data) { return; }
        presence.textContent = data.others.map(function (o) {
          return o.name + " " + (o.typing ? presence.dataset.typing || "is typing…" : presence.dataset.viewing || "is viewing");
        }).join(" · ");
      }).catch(function () { /* offline: try again on the next tick */ });
    };
    report("viewing");
    setInterval(function () { report(Date.now() < typingUntil ? "typing" : "viewing"); }, 4000);
    if (text) {
      text.addEventListener("input", function () {
        var was = Date.now() < typingUntil;
        typingUntil = Date.now() + 5000;
        if (!was) { report("typing"); }
      });
    }
    window.addEventListener("pagehide", function () { report("gone"); });
  }
  if (pageKind === "inbox") { rememberOrder(); }

  // ---- confirmations (deleting a saved view) ------------------------------
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) { e.preventDefault(); }
  });

  // ---- @-completion of agents' addresses, in private notes only -----------
  var privateBox = document.querySelector('[data-reply] input[name="private"][value="1"]');
  if (text && privateBox) {
    var list = document.createElement("ul");
    list.className = "mention-list";
    list.id = "mention-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", text.dataset.mentionLabel || "Agents");
    list.hidden = true;
    text.parentNode.insertBefore(list, text.nextSibling);
    text.setAttribute("aria-controls", "mention-list");
    text.setAttribute("aria-autocomplete", "list");
    var choices = [];
    var active = -1;
    var asked = 0;
    var closeList = function () { list.hidden = true; choices = []; active = -1; text.removeAttribute("aria-activedescendant"); };
    var wordAtCaret = function () {
      var upto = text.value.slice(0, text.selectionStart);
      var m = /(^|[\s(])@([^\s@]*)$/.exec(upto);
      return m ? { start: upto.length - m[2].length, prefix: m[2] } : null;
    };
    var show = function (items) {
      list.innerHTML = "";
      choices = items;
      active = items.length ? 0 : -1;
      items.forEach(function (item, i) {
        var li = document.createElement("li");
        li.id = "mention-" + i;
        li.setAttribute("role", "option");
        li.textContent = item.email + (item.name ? " (" + item.name + ")" : "");
        li.addEventListener("mousedown", function (ev) { ev.preventDefault(); choose(i); });
        list.appendChild(li);
      });
      list.hidden = !items.length;
      mark();
    };
    var mark = function () {
      Array.prototype.forEach.call(list.children, function (li, i) { li.setAttribute("aria-selected", i === active ? "true" : "false"); });
      if (active >= 0) { text.setAttribute("aria-activedescendant", "mention-" + active); }
    };
    var choose = function (i) {
      var word = wordAtCaret();
      if (!word || !choices[i]) { closeList(); return; }
      var end = text.selectionStart;
      var insert = choices[i].email + " ";
      text.value = text.value.slice(0, word.start) + insert + text.value.slice(end);
      text.selectionStart = text.selectionEnd = word.start + insert.length;
      closeList();
      text.focus();
    };
    text.addEventListener("input", function () {
      var word = privateBox.checked ? wordAtCaret() : null;
      if (!word || !/^[A-Za-z][\w.+-]*$/.test(word.prefix)) { closeList(); return; }
      var mine = ++asked;
      fetch("/ui/agents.json?q=" + encodeURIComponent(word.prefix), { credentials: "same-origin" }).then(function (r) {
        return r.ok ? r.json() : { items: [] };
      }).then(function (data) { if (mine === asked) { show(data.items || []); } }).catch(closeList);
    });
    text.addEventListener("keydown", function (ev) {
      if (list.hidden) { return; }
      if (ev.key === "ArrowDown") { active = (active + 1) % choices.length; mark(); }
      else if (ev.key === "ArrowUp") { active = (active - 1 + choices.length) % choices.length; mark(); }
      else if (ev.key === "Enter" || ev.key === "Tab") { choose(active); }
      else if (ev.key === "Escape") { closeList(); }
      else { return; }
      ev.preventDefault();
    });
    text.addEventListener("blur", function () { setTimeout(closeList, 100); });
    privateBox.form.addEventListener("change", function () { if (!privateBox.checked) { closeList(); } });
  }
})();

// "Schedule…": the reply box sends the browser's offset to UTC with the local time; a
// scheduled reply's time is shown in the agent's time zone; confirmations on buttons.
(function () {
  var offset = document.querySelector("[data-tz-offset]");
  if (offset) offset.value = String(new Date().getTimezoneOffset());
  // "Snooze until" is read in the browser's own zone (by name, so a date past a DST change is right).
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
  document.querySelectorAll("[data-tz]").forEach(function (el) { el.value = zone; });
  document.querySelectorAll("[data-local-time]").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (!isNaN(when)) el.textContent = when.toLocaleString();
  });
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) e.preventDefault();
  });
})();

// The add-channel form: show only the fields of the chosen channel type.
(function () {
  var select = document.getElementById("ch-type");
  if (!select) return;
  function show() {
    document.querySelectorAll("fieldset[data-channel-type]").forEach(function (set) {
      var on = set.getAttribute("data-channel-type") === select.value;
      set.hidden = !on;
      set.disabled = !on;
    });
  }
  select.addEventListener("change", show);
  show();
})();
