// The call screens' few needs that htmx does not cover: removing an editor row, filling in a
// new UUID, copying the curl command. Event delegation, so htmx-swapped content works too.
"use strict";

(function () {
  function newUuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    // Outside a secure context randomUUID is missing; getRandomValues is not.
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;

    const remove = target.closest("[data-kv-remove]");
    if (remove) {
      const row = remove.closest(".kv-row");
      const rows = row && row.parentElement;
      if (row) row.remove();
      const next = rows && rows.querySelector(".kv-row input[type=text]");
      if (next) next.focus();
      return;
    }

    const uuidButton = target.closest("[data-new-uuid]");
    if (uuidButton) {
      const input = document.getElementById(uuidButton.getAttribute("data-new-uuid"));
      if (input) {
        input.value = newUuid();
        input.dispatchEvent(new Event("input", { bubbles: true }));
        input.focus();
      }
      return;
    }

    const copy = target.closest("[data-copy]");
    if (copy) {
      const source = document.querySelector(copy.getAttribute("data-copy"));
      if (source && navigator.clipboard) {
        navigator.clipboard.writeText(source.textContent).then(() => {
          const label = copy.textContent;
          copy.textContent = "Copied";
          window.setTimeout(() => { copy.textContent = label; }, 1500);
        }, () => {});
      }
    }
  });
})();
