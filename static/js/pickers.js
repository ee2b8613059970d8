// The call screens' pickers, built on tom-select (node_modules, served as static files).
// Everything here enhances a form that works without JavaScript:
// - "Add a trait" / "Add a property": the editor's pool of Segment's reserved fields (a folded
//   list without JavaScript) becomes one searchable picker showing each field's type and
//   meaning; choosing one moves its row (or its object's group: address, company) up to the
//   rows being typed and puts the cursor in it.
"use strict";

(function () {
  function escapeHtml(text) {
    const div = document.createElement("div");
    div.textContent = text == null ? "" : String(text);
    return div.innerHTML;
  }

  // --- Add a trait / Add a property ----------------------------------------------------------

  function poolOptions(pool) {
    const options = [];
    const groups = [];
    pool.querySelectorAll(".kv-row[data-kv-key]").forEach((row) => {
      const key = row.dataset.kvKey;
      const group = row.closest("details[data-kv-group]");
      const heading = group ? group.dataset.kvGroup : "";
      if (heading && !groups.some((g) => g.value === heading)) {
        groups.push({ value: heading, label: `${heading} (an object of parts)` });
      }
      const help = row.querySelector(".kv-description");
      options.push({
        key: key,
        types: row.dataset.kvTypes || "",
        description: help ? help.textContent.trim() : "",
        group: heading || "top",
      });
    });
    return { options: options, groups: [{ value: "top", label: "Reserved by Segment" }, ...groups] };
  }

  function focusRow(row) {
    const field = row.querySelector("[name$='__value']:not([type=hidden])");
    if (field) field.focus();
  }

  function enhancePool(pool) {
    if (pool.dataset.pickerReady || typeof window.TomSelect !== "function") return;
    const editor = pool.closest("[data-editor]");
    const shown = editor && editor.querySelector("[data-kv-shown]");
    const add = editor && editor.querySelector("[data-kv-add]");
    if (!shown || !add) return;
    pool.dataset.pickerReady = "1";
    const name = pool.dataset.kvPool;
    const noun = pool.dataset.kvNoun;
    const { options, groups } = poolOptions(pool);

    const wrap = document.createElement("div");
    wrap.className = "kv-picker";
    const label = document.createElement("label");
    label.className = "visually-hidden";
    label.htmlFor = `id_${name}__picker`;
    label.textContent = `Add a ${noun}`;
    const select = document.createElement("select");
    select.id = `id_${name}__picker`;
    select.dataset.testid = `${name}-picker`;
    wrap.append(label, select);
    add.append(wrap);
    pool.hidden = true;

    const picker = new window.TomSelect(select, {
      options: options,
      optgroups: groups,
      optgroupField: "group",
      valueField: "key",
      labelField: "key",
      searchField: ["key", "description", "types"],
      placeholder: `Add a ${noun}: search Segment's reserved ones…`,
      maxOptions: null,
      refreshThrottle: 0, // a short list: filter at once (a late refresh would steal the focus)
      render: {
        option: (data, escape) =>
          `<div class="kv-pick"><code>${escape(data.key)}</code> ` +
          `<span class="badge text-bg-light border kv-pick-type">${escape(data.types)}</span>` +
          `<div class="kv-pick-help">${escape(data.description)}</div></div>`,
        item: (data, escape) => `<div>${escape(data.key)}</div>`,
        no_results: () => `<div class="no-results">No reserved ${escapeHtml(noun)} by that name: add a custom one.</div>`,
      },
      onChange: (key) => {
        if (!key) return;
        const row = pool.querySelector(`.kv-row[data-kv-key="${CSS.escape(key)}"]`);
        picker.clear(true);
        if (!row) return;
        const group = row.closest("details[data-kv-group]");
        const moved = group || row;
        moved.querySelectorAll(".kv-row[data-kv-key]").forEach((r) => picker.removeOption(r.dataset.kvKey));
        picker.removeOption(key);
        if (group) group.open = true;
        shown.append(moved);
        // After tom-select has finished with the choice (it closes and refocuses itself).
        window.setTimeout(() => {
          if (!pool.querySelector(".kv-row[data-kv-key]")) {
            picker.destroy();
            wrap.remove();
          } else {
            picker.blur();
          }
          focusRow(row);
        }, 0);
      },
    });
  }

  function enhance(root) {
    const scope = root && root.querySelectorAll ? root : document;
    scope.querySelectorAll("details[data-kv-pool]").forEach(enhancePool);
  }

  document.addEventListener("DOMContentLoaded", () => enhance(document));
  document.addEventListener("htmx:load", (event) => enhance(event.target));
})();
