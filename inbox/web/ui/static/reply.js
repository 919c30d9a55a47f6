// The conversation page's reply box: Ctrl/Cmd+Enter sends, Reply / Private note modes,
// a draft kept per conversation (localStorage, cleared on send), canned responses
// searched with "/" at the start of the box or from the "Canned responses" button (their
// variables are filled by the server), long messages collapsed, the newest in view.
(function () {
  "use strict";
  var form = document.querySelector("form[data-reply]");
  var text = document.getElementById("text");

  // ---- long messages: "Show more" / "Show less" ---------------------------
  document.addEventListener("click", function (e) {
    var more = e.target.closest && e.target.closest("[data-more]");
    if (!more) { return; }
    var target = document.getElementById(more.getAttribute("aria-controls"));
    if (!target) { return; }
    if (!more.dataset.more) { more.dataset.more = more.textContent; }
    var open = target.classList.toggle("open");
    more.setAttribute("aria-expanded", open ? "true" : "false");
    more.textContent = open ? more.dataset.less : more.dataset.more;
  });

  // ---- convert: the button names the kind ---------------------------------
  var kind = document.querySelector("[data-convert-kind]");
  var convert = document.querySelector("[data-convert-button]");
  if (kind && convert) {
    var name = function () { convert.textContent = kind.value === "incident" ? convert.dataset.incident : convert.dataset.request; };
    kind.addEventListener("change", name);
    name();
  }

  if (!form || !text) { return; }
  var send = form.querySelector("[data-send]");
  var thens = form.querySelectorAll("[data-then]");
  var key = form.dataset.draftKey;

  // ---- modes ---------------------------------------------------------------
  function isNote() {
    var note = form.querySelector('input[name="private"][value="1"]');
    return !!(note && note.checked);
  }
  function showMode() {
    var note = isNote();
    form.classList.toggle("mode-note", note);
    send.textContent = note ? send.dataset.noteLabel : send.dataset.replyLabel;
    Array.prototype.forEach.call(thens, function (b) { b.hidden = note; });
  }

  // ---- the draft -------------------------------------------------------------
  function saveDraft() {
    try {
      if (text.value.trim()) {
        localStorage.setItem(key, JSON.stringify({ text: text.value, note: isNote() }));
      } else {
        localStorage.removeItem(key);
      }
    } catch (err) { /* storage full or refused: the draft is not kept */ }
  }
  function restoreDraft() {
    if (text.value) { saveDraft(); return; } // the server kept the text (e.g. "send anyway?")
    var saved = null;
    try { saved = JSON.parse(localStorage.getItem(key) || "null"); } catch (err) { saved = null; }
    if (!saved || typeof saved.text !== "string") { return; }
    text.value = saved.text;
    var radio = form.querySelector('input[name="private"][value="' + (saved.note ? "1" : "") + '"]');
    if (radio) { radio.checked = true; }
  }
  restoreDraft();
  showMode();
  form.addEventListener("change", function (e) {
    if (e.target.name === "private") { showMode(); saveDraft(); }
  });
  text.addEventListener("input", saveDraft);
  form.addEventListener("submit", function () {
    try { localStorage.removeItem(key); } catch (err) { /* nothing kept */ }
  });

  // ---- Ctrl+Enter / Cmd+Enter sends -------------------------------------------
  text.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      if (!text.value.trim()) { return; }
      if (form.requestSubmit) { form.requestSubmit(send); } else { send.click(); }
    }
  });

  // ---- canned responses --------------------------------------------------------
  var pop = form.querySelector("[data-canned-pop]");
  var query = form.querySelector("[data-canned-q]");
  var list = form.querySelector("[data-canned-list]");
  var button = form.querySelector("[data-canned-button]");
  if (pop && query && list) {
    var options = Array.prototype.slice.call(list.querySelectorAll("[role=option]"));
    var empty = document.createElement("li");
    empty.className = "muted";
    empty.setAttribute("role", "presentation");
    empty.textContent = list.dataset.empty;
    var active = -1;
    var caret = 0;
    var visible = function () { return options.filter(function (o) { return !o.hidden; }); };
    var mark = function () {
      var shown = visible();
      options.forEach(function (o) { o.setAttribute("aria-selected", "false"); o.classList.remove("active"); });
      if (active >= 0 && shown[active]) {
        shown[active].setAttribute("aria-selected", "true");
        shown[active].classList.add("active");
        shown[active].scrollIntoView({ block: "nearest" });
        query.setAttribute("aria-activedescendant", shown[active].id);
      } else {
        query.removeAttribute("aria-activedescendant");
      }
    };
    var filter = function () {
      var q = query.value.trim().toLowerCase();
      options.forEach(function (o) {
        o.hidden = q !== "" && (o.dataset.name + " " + o.dataset.text).toLowerCase().indexOf(q) < 0;
      });
      if (empty.parentNode) { empty.parentNode.removeChild(empty); }
      if (!visible().length) { list.appendChild(empty); }
      active = visible().length ? 0 : -1;
      mark();
    };
    var open = function (initial) {
      caret = text.selectionStart || 0;
      pop.hidden = false;
      if (button) { button.setAttribute("aria-expanded", "true"); }
      query.value = initial || "";
      filter();
      query.focus();
    };
    var close = function () {
      pop.hidden = true;
      if (button) { button.setAttribute("aria-expanded", "false"); }
      text.focus();
    };
    var insert = function (option) {
      var chosen = option.dataset.text;
      var before = text.value.slice(0, caret);
      var after = text.value.slice(caret);
      var glue = before && !/\s$/.test(before) ? "\n\n" : "";
      text.value = before + glue + chosen + after;
      caret = (before + glue + chosen).length;
      close();
      text.selectionStart = text.selectionEnd = caret;
      saveDraft();
    };
    // "/" typed at the start of the box opens the search (the "/" is not kept).
    text.addEventListener("input", function () {
      var m = /^\/(\S*)$/.exec(text.value.slice(0, text.selectionStart));
      if (m && text.selectionStart === 1 + m[1].length && text.value.indexOf("\n") < 0 && text.value.length === 1 + m[1].length) {
        text.value = "";
        saveDraft();
        open(m[1]);
      }
    });
    if (button) {
      button.addEventListener("click", function () { if (pop.hidden) { open(""); } else { close(); } });
    }
    query.addEventListener("input", filter);
    query.addEventListener("keydown", function (e) {
      var shown = visible();
      if (e.key === "ArrowDown" && shown.length) { active = (active + 1) % shown.length; mark(); }
      else if (e.key === "ArrowUp" && shown.length) { active = (active - 1 + shown.length) % shown.length; mark(); }
      else if (e.key === "Enter") { if (shown[active]) { insert(shown[active]); } }
      else if (e.key === "Escape") { close(); }
      else { return; }
      e.preventDefault();
    });
    options.forEach(function (o) {
      o.addEventListener("mousedown", function (e) { e.preventDefault(); insert(o); });
    });
  }

  // ---- the newest message and the box in view on load --------------------------
  if (!location.hash) {
    var firstNew = document.querySelector(".timeline .msg.new");
    if (firstNew) {
      firstNew.scrollIntoView({ block: "start" });
    } else if (document.documentElement.scrollHeight > window.innerHeight) {
      form.scrollIntoView({ block: "end" });
    }
  }
})();
