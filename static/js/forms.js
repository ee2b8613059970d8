// A refused form's error summary (templates/error_summary.html): the focus goes to it when it
// appears (a full page or an htmx swap), and each of its links puts the focus on its field,
// opening the folded section it sits in and scrolling it clear of the sticky Send bar.
"use strict";

(function () {
  const CONTROLS = "input:not([type=hidden]), select, textarea, button";

  function visible(element) {
    return element.getClientRects().length > 0;
  }

  function focusSummary() {
    const summary = document.querySelector("[data-error-summary]:not([data-summary-shown])");
    if (!summary) return;
    summary.setAttribute("data-summary-shown", "");
    summary.focus({ preventScroll: true });
    summary.scrollIntoView({ block: "start", behavior: "instant" });
  }

  function controlFor(target) {
    if (target.matches(CONTROLS) && visible(target)) return target;
    // A section (an editor) or a control its row hides (a true/false row's text box): the
    // first visible control around it.
    const scope = target.matches(CONTROLS) ? target.closest(".kv-row, .mb-3, section") || target : target;
    return Array.from(scope.querySelectorAll(CONTROLS)).find(visible) || target;
  }

  function focusField(id) {
    const target = document.getElementById(id);
    if (!target) return;
    for (let details = target.closest("details"); details; details = details.parentElement.closest("details")) {
      details.open = true;
    }
    const control = controlFor(target);
    if (!control.matches(CONTROLS) && !control.hasAttribute("tabindex")) control.setAttribute("tabindex", "-1");
    control.focus({ preventScroll: true });
    control.scrollIntoView({ block: "center", behavior: "instant" });
  }

  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const link = target && target.closest("[data-error-summary] a[href^='#']");
    if (!link) return;
    event.preventDefault();
    focusField(decodeURIComponent(link.getAttribute("href").slice(1)));
  });
  document.addEventListener("DOMContentLoaded", focusSummary);
  document.addEventListener("htmx:afterSettle", focusSummary);
})();

// A send form's Source select (issue 16): choosing a Production source (its option carries
// data-production) says at once, above Send, that sending asks for a confirmation naming it.
// Only a hint: the server draws the confirmation box and refuses a send without it.
(function () {
  function update(select) {
    const form = select.form;
    const block = form && form.querySelector("[data-production-confirm]");
    if (!block) return;
    const hint = block.querySelector("[data-production-hint]");
    const option = select.selectedOptions[0];
    const drawnFor = block.getAttribute("data-production-for");
    const production = option && option.hasAttribute("data-production");
    // The server's own banner for this source is there already: no second one.
    hint.hidden = !production || drawnFor === option.value;
    if (production) {
      hint.querySelector("[data-production-name]").textContent = option.textContent.replace(/ \(.*$/, "");
    }
    const banner = block.querySelector(".production-banner");
    if (banner) banner.hidden = drawnFor !== (option && option.value);
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target instanceof HTMLSelectElement && target.name === "source") update(target);
  });
})();
