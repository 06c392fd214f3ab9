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
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
  });
})();
