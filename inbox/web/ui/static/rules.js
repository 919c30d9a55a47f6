// The rule form's builder (/admin/rules): "Add condition" / "Add action" add a row from the
// page's <template>, "Remove" takes one away, and choosing a field sets the operator it takes,
// the suggestions of its value box and whether the form-field name is asked. Without this
// script the form still works with its fixed rows; the server assembles the rule either way.
// "Applies to" (conversations or changes) narrows each row's keys to that kind's.
(function () {
  "use strict";
  var form = document.querySelector("form[data-rule-builder]");
  if (!form) { return; }

  function nextIndex(part) {
    var most = -1;
    form.querySelectorAll("[name^='" + part + "-'][name$='-key']").forEach(function (el) {
      var n = parseInt(el.name.split("-")[1], 10);
      if (!isNaN(n) && n > most) { most = n; }
    });
    return most + 1;
  }

  function fit(row, setOperator) {
    var key = row.querySelector("[data-rule-key]");
    var part = row.getAttribute("data-rule-row");
    var op = row.querySelector("[data-rule-op]");
    var value = row.querySelector("[data-rule-value]");
    var nameBox = row.querySelector("[data-rule-name-box]");
    var chosen = key.options[key.selectedIndex];
    if (setOperator && op && chosen && chosen.getAttribute("data-op")) { op.value = chosen.getAttribute("data-op"); }
    var list = "dl-" + part + "-" + key.value;
    if (key.value && document.getElementById(list)) { value.setAttribute("list", list); } else { value.removeAttribute("list"); }
    var name = row.querySelector("[data-rule-name]");
    // A typed form-field name stays in view (it is sent as typed).
    if (nameBox) { nameBox.hidden = key.value !== "field" && !(name && name.value); }
  }

  function arm(row) {
    var remove = row.querySelector("[data-rule-remove]");
    if (remove) { remove.hidden = false; }
    fit(row, false);
  }

  // "Applies to": only the keys of that kind of rule are offered (the server checks anyway).
  var on = form.querySelector("[data-rule-on]");
  function offerKind(row) {
    var kind = on ? on.value : "message";
    row.querySelectorAll("optgroup[data-rule-kind]").forEach(function (group) {
      var other = group.getAttribute("data-rule-kind") !== kind;
      group.hidden = other;
      group.disabled = other;
    });
    var key = row.querySelector("[data-rule-key]");
    var chosen = key && key.options[key.selectedIndex];
    if (chosen && chosen.parentNode.disabled) { key.value = ""; fit(row, false); }
  }
  if (on) {
    on.addEventListener("change", function () { form.querySelectorAll("[data-rule-row]").forEach(offerKind); });
  }

  form.querySelectorAll("[data-rule-row]").forEach(function (row) { arm(row); offerKind(row); });
  form.querySelectorAll("[data-rule-add]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var part = button.getAttribute("data-rule-add");
      var rows = form.querySelector("[data-rule-rows='" + part + "']");
      var template = document.getElementById("rule-row-" + part);
      var n = nextIndex(part);
      var count = rows.querySelectorAll("[data-rule-row]").length + 1;
      rows.insertAdjacentHTML("beforeend", template.innerHTML.replace(/__N__/g, String(n)).replace(/__NUM__/g, String(count)));
      var row = rows.lastElementChild;
      arm(row);
      offerKind(row);
      row.querySelector("[data-rule-key]").focus();
    });
  });
  form.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches("[data-rule-key]")) { fit(e.target.closest("[data-rule-row]"), true); }
  });
  form.addEventListener("click", function (e) {
    var remove = e.target.closest && e.target.closest("[data-rule-remove]");
    if (!remove) { return; }
    var row = remove.closest("[data-rule-row]");
    var part = row.getAttribute("data-rule-row");
    row.remove();
    form.querySelector("[data-rule-add='" + part + "']").focus();
  });
})();
