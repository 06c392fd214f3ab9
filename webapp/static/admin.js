/* nurturehub admin UI: a little progressive enhancement. Every page works without it.
 * - The mapping editor's preview and the template editor's privacy check follow the form as you type
 *   (the same POST as their buttons, answered with a piece of HTML).
 * - Buttons and forms with data-confirm ask before they act. */
(function () {
  "use strict";

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  // After the mapping preview is swapped in: mark the rules the CRM's verdict concerns, copy the
  // verdict to the top of the page, and switch Save off (with the reason) or on.
  function applyVerdict(target) {
    var root = target.querySelector(".preview-root");
    if (!root) { return; }
    var save = document.getElementById("save-button");
    var reason = document.getElementById("save-reason");
    var blocked = root.getAttribute("data-blocked") || "";
    if (save) { save.disabled = blocked !== ""; }
    if (reason) { reason.textContent = blocked; }
    var top = document.getElementById("verdict-top");
    var summary = root.querySelector(".verdict-summary");
    if (top && summary) {
      var copy = summary.cloneNode(true);
      copy.querySelectorAll("[role=alert]").forEach(function (el) { el.removeAttribute("role"); });
      top.replaceChildren.apply(top, Array.prototype.slice.call(copy.childNodes));
    }
    var problems = {};
    try { problems = JSON.parse(root.getAttribute("data-rules") || "{}"); } catch (e) { problems = {}; }
    document.querySelectorAll("details.rule[data-rule]").forEach(function (rule) {
      var messages = problems[rule.getAttribute("data-rule")];
      var slot = rule.querySelector(".preflight-at-rule");
      if (slot) {
        slot.replaceChildren();
        if (messages && messages.length) {
          var p = document.createElement("p");
          p.className = "field-error";
          p.textContent = "The CRM would refuse this rule: " + messages.join("; ");
          slot.appendChild(p);
        }
      }
      rule.classList.toggle("has-preflight-error", Boolean(messages && messages.length));
      if (messages && messages.length) { rule.open = true; }
    });
  }

  function follow(form, url, target) {
    var seq = 0;
    function run() {
      var mine = ++seq;
      var token = form.elements.namedItem("csrf_token");
      target.setAttribute("aria-busy", "true");
      fetch(url, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { "X-Requested-With": "fetch", "X-CSRF-Token": token ? token.value : "" }
      })
        .then(function (response) {
          return response.text().then(function (text) { return { status: response.status, text: text }; });
        })
        .then(function (result) {
          if (mine !== seq) { return; }
          target.removeAttribute("aria-busy");
          if (result.status === 401 || result.status === 400) {
            var p = document.createElement("p");
            p.className = "banner error";
            p.textContent = result.text + " (reload the page)";
            target.replaceChildren(p);
            return;
          }
          target.innerHTML = result.text;
          applyVerdict(target);
          target.setAttribute("data-version", String(mine));
        })
        .catch(function () {
          if (mine === seq) { target.removeAttribute("aria-busy"); }
        });
    }
    var later = debounce(run, 350);
    form.addEventListener("input", later);
    form.addEventListener("change", later);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var mapping = document.getElementById("mapping-form");
    var preview = document.getElementById("preview");
    if (mapping && preview && mapping.dataset.previewUrl && !mapping.querySelector("fieldset[disabled]")) {
      follow(mapping, mapping.dataset.previewUrl, preview);
    }
    var template = document.getElementById("template-form");
    var verdict = document.getElementById("verdict");
    if (template && verdict && template.dataset.checkUrl && !template.querySelector("fieldset[disabled]")) {
      follow(template, template.dataset.checkUrl, verdict);
    }
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
      });
    });
    document.querySelectorAll("button[data-confirm]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        if (!window.confirm(button.dataset.confirm)) { event.preventDefault(); }
      });
    });
    document.querySelectorAll("[data-rules-open]").forEach(function (button) {
      button.addEventListener("click", function () {
        var open = button.getAttribute("data-rules-open") === "true";
        document.querySelectorAll("details.rule").forEach(function (rule) { rule.open = open; });
      });
    });
    // The channel map: a new queue's name is asked for only when "New queue…" is chosen.
    document.querySelectorAll("select[name$='.owner_queue']").forEach(function (select) {
      var input = document.querySelector("input.new-queue[name='" + select.name.replace(/owner_queue$/, "new_queue") + "']");
      var box = input ? input.closest(".field") : null;
      if (!box) { return; }
      function sync() { box.hidden = select.value !== "__new__" && !box.classList.contains("has-error"); }
      select.addEventListener("change", function () { box.classList.remove("has-error"); sync(); });
      sync();
    });
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
  });
})();
