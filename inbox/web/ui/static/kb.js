/* Suggested articles in the agent's conversation page (templates/kb/_suggestions.html):
   fetch them, insert a link into the reply with a button or Alt+1..3, and record
   "solved by article" with a CSRF-protected form. */
(function () {
  "use strict";
  var box = document.querySelector(".kb-suggestions[data-conversation]");
  if (!box) return;
  var list = box.querySelector(".kb-suggestion-list");
  var id = box.getAttribute("data-conversation");
  var articles = [];

  function say(text) {
    list.textContent = "";
    var li = document.createElement("li");
    li.className = "meta";
    li.textContent = text;
    list.appendChild(li);
  }

  function replyBox() {
    return document.querySelector("form.reply textarea[name=text]") || document.querySelector("textarea[name=text]");
  }

  function insert(index) {
    var article = articles[index];
    var area = replyBox();
    if (!article || !area) return false;
    var link = article.title + ": " + article.url;
    var start = area.selectionStart == null ? area.value.length : area.selectionStart;
    var end = area.selectionEnd == null ? start : area.selectionEnd;
    var before = area.value.slice(0, start);
    var pad = before && !/\s$/.test(before) ? " " : "";
    area.value = before + pad + link + area.value.slice(end);
    var caret = (before + pad + link).length;
    area.focus();
    area.setSelectionRange(caret, caret);
    area.dispatchEvent(new Event("input", { bubbles: true }));
    return true;
  }

  function solvedForm(article) {
    var form = document.createElement("form");
    form.method = "post";
    form.action = "/ui/kb/conversations/" + encodeURIComponent(id) + "/solved";
    form.style.display = "inline";
    [["csrf", box.getAttribute("data-csrf")], ["article_id", String(article.id)]].forEach(function (pair) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = pair[0];
      input.value = pair[1];
      form.appendChild(input);
    });
    var button = document.createElement("button");
    button.type = "submit";
    button.textContent = box.getAttribute("data-text-solved");
    form.appendChild(button);
    return form;
  }

  function show(items) {
    articles = items;
    if (!items.length) { say(box.getAttribute("data-text-none")); return; }
    list.textContent = "";
    items.forEach(function (article, index) {
      var li = document.createElement("li");
      li.style.margin = ".35rem 0";
      var a = document.createElement("a");
      a.href = article.url;
      a.target = "_blank";
      a.rel = "noopener";
      a.textContent = article.title;
      var lang = document.createElement("span");
      lang.className = "chip";
      lang.textContent = article.language;
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = box.getAttribute("data-text-insert");
      if (index < 3) button.setAttribute("aria-keyshortcuts", "Alt+" + (index + 1));
      button.addEventListener("click", function () { insert(index); });
      var actions = document.createElement("div");
      actions.style.display = "flex";
      actions.style.gap = ".4rem";
      actions.style.marginTop = ".2rem";
      actions.appendChild(button);
      actions.appendChild(solvedForm(article));
      li.appendChild(a);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(lang);
      li.appendChild(actions);
      list.appendChild(li);
    });
  }

  document.addEventListener("keydown", function (event) {
    if (!event.altKey || event.ctrlKey || event.metaKey) return;
    var n = { Digit1: 0, Digit2: 1, Digit3: 2 }[event.code];
    if (n !== undefined && insert(n)) event.preventDefault();
  });

  fetch("/api/v1/conversations/" + encodeURIComponent(id) + "/suggested-articles?limit=5", { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) { if (!response.ok) throw new Error(String(response.status)); return response.json(); })
    .then(function (data) { show(data.items || []); })
    .catch(function () { say(box.getAttribute("data-text-failed")); });
})();
