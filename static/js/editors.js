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

// A long list of planned events (Event Name under a tracking plan that blocks unplanned
// events) gets a search box above it: typing hides the events that do not contain the text,
// Enter picks the first one left. The select stays the field that is sent.
(function () {
  function enhance(root) {
    const scope = root && root.querySelectorAll ? root : document;
    scope.querySelectorAll("select[data-searchable]").forEach((select) => {
      if (select.dataset.searchReady) return;
      select.dataset.searchReady = "1";
      const search = document.createElement("input");
      search.type = "search";
      search.className = "form-control form-control-sm mb-1";
      search.placeholder = "Search the events…";
      search.setAttribute("aria-label", "Search the events of the tracking plan");
      search.setAttribute("aria-controls", select.id);
      select.parentElement.insertBefore(search, select);
      const filter = () => {
        const text = search.value.trim().toLowerCase();
        for (const option of select.options) {
          option.hidden = Boolean(option.value) && !option.text.toLowerCase().includes(text);
        }
      };
      search.addEventListener("input", filter);
      search.addEventListener("keydown", (event) => {
        if (event.key !== "Enter") return;
        event.preventDefault(); // Enter here picks an event; it does not submit the form
        const first = Array.from(select.options).find((o) => o.value && !o.hidden);
        if (first) {
          select.value = first.value;
          select.dispatchEvent(new Event("change", { bubbles: true }));
        }
      });
    });
  }
  document.addEventListener("DOMContentLoaded", () => enhance(document));
  document.addEventListener("htmx:load", (event) => enhance(event.target));
})();
