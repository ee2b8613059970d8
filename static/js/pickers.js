// The call screens' pickers, built on tom-select (node_modules, served as static files).
// Everything here enhances a form that works without JavaScript:
// - "Add a trait" / "Add a property": the editor's pool of Segment's reserved fields (a folded
//   list without JavaScript) becomes one searchable picker showing each field's type and
//   meaning; choosing one moves its row (or its object's group: address, company) up to the
//   rows being typed and puts the cursor in it.
// - Time zones (Timestamp's, and each date-time row's): searchable, UTC, the browser's zone and
//   the zones used lately first; a new form starts in the browser's zone.
// - Date-time traits and properties: a date-time input (a date input for a birthday) with its
//   zone, writing the ISO-8601 text the row sends (which stays visible and editable).
// - Currency and a tracking plan's event names: searchable.
"use strict";

(function () {
  function escapeHtml(text) {
    const div = document.createElement("div");
    div.textContent = text == null ? "" : String(text);
    return div.innerHTML;
  }

  // tom-select keeps the original <select> (the one posted) in the accessibility tree, so a
  // screen reader would meet the field twice: only tom-select's own box is announced.
  function searchable(select, settings) {
    const picker = new window.TomSelect(select, settings);
    select.setAttribute("aria-hidden", "true");
    return picker;
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
    if (field && field.tomselect) field.tomselect.focus();
    else if (field) field.focus();
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
    // tom-select points the <label> at its own search box and keeps this select, hidden but
    // still read by assistive technology: it needs a name of its own.
    select.setAttribute("aria-label", `Add a ${noun}`);
    wrap.append(label, select);
    add.append(wrap);
    pool.hidden = true;

    const picker = searchable(select, {
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

  // --- Time zones --------------------------------------------------------------------------

  const RECENT_KEY = "segadmin.recentZones";

  function browserZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (error) {
      return "";
    }
  }

  function recentZones() {
    try {
      const stored = JSON.parse(window.localStorage.getItem(RECENT_KEY) || "[]");
      return Array.isArray(stored) ? stored.filter((z) => typeof z === "string") : [];
    } catch (error) {
      return [];
    }
  }

  function rememberZone(zone) {
    if (!zone) return;
    const zones = [zone, ...recentZones().filter((z) => z !== zone)].slice(0, 5);
    try {
      window.localStorage.setItem(RECENT_KEY, JSON.stringify(zones));
    } catch (error) {
      // Storage refused (private mode): the list is only a convenience.
    }
  }

  // Every zone the server knows, read from Timestamp's select (on every call form) before
  // tom-select takes it over.
  let knownZones = null;

  function zoneNames() {
    if (knownZones) return knownZones;
    const master = document.querySelector("select[data-zone-picker]");
    if (master && !master.dataset.pickerReady) {
      knownZones = Array.from(master.options, (o) => o.value);
      return knownZones;
    }
    try {
      return ["UTC", ...Intl.supportedValuesOf("timeZone")];
    } catch (error) {
      return ["UTC"];
    }
  }

  function zoneOptions(names) {
    const browser = browserZone();
    const known = new Set(names);
    const first = ["UTC", browser, ...recentZones()].filter(
      (zone, index, all) => zone && known.has(zone) && all.indexOf(zone) === index,
    );
    const options = first.map((zone) => ({
      value: zone,
      text: zone,
      group: "first",
      note: zone === browser && zone !== "UTC" ? "this browser's zone" : "",
    }));
    names.forEach((zone) => {
      if (!first.includes(zone)) options.push({ value: zone, text: zone, group: "all", note: "" });
    });
    return options;
  }

  // ``select``: a <select> of zone names (Timestamp's, posted), or an empty one (a row's).
  function zonePicker(select, chosen) {
    const names = select.options.length ? Array.from(select.options, (o) => o.value) : zoneNames();
    const options = zoneOptions(names);
    while (select.options.length) select.remove(0);
    const picker = searchable(select, {
      options: options,
      optgroups: [
        { value: "first", label: "UTC, this browser's zone and recently used" },
        { value: "all", label: "All time zones" },
      ],
      optgroupField: "group",
      lockOptgroupOrder: true,
      items: [chosen],
      maxOptions: null,
      refreshThrottle: 0,
      render: {
        option: (data, escape) =>
          `<div>${escape(data.text)}${data.note ? ` <span class="text-body-secondary small">· ${escape(data.note)}</span>` : ""}</div>`,
        no_results: () => '<div class="no-results">No time zone by that name.</div>',
      },
      onChange: (zone) => rememberZone(zone),
    });
    return picker;
  }

  function enhanceTimestampZone(select) {
    if (select.dataset.pickerReady || typeof window.TomSelect !== "function") return;
    const names = Array.from(select.options, (o) => o.value);
    knownZones = names;
    select.dataset.pickerReady = "1";
    const browser = browserZone();
    let chosen = select.value;
    if (select.hasAttribute("data-preset-browser-zone") && names.includes(browser)) chosen = browser;
    zonePicker(select, chosen);
  }

  // --- Date-time rows ----------------------------------------------------------------------

  const ISO = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?)?$/;

  function pad(number) {
    return String(Math.abs(number)).padStart(2, "0");
  }

  // Minutes ``zone`` is ahead of UTC at the instant ``utcMillis``.
  function offsetMinutes(zone, utcMillis) {
    const parts = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    }).formatToParts(new Date(utcMillis));
    const get = (type) => Number(parts.find((p) => p.type === type).value);
    const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
    return Math.round((asUtc - utcMillis) / 60000);
  }

  // "2024-05-01T09:30" read in ``zone`` -> "2024-05-01T09:30:00+02:00" ("…Z" in UTC).
  function isoText(local, zone) {
    const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(local);
    if (!match) return "";
    const seconds = match[6] || "00";
    const wall = `${match[1]}-${match[2]}-${match[3]}T${match[4]}:${match[5]}:${seconds}`;
    if (!zone || zone === "UTC") return `${wall}Z`;
    const naive = Date.UTC(+match[1], +match[2] - 1, +match[3], +match[4], +match[5], +seconds);
    let offset = offsetMinutes(zone, naive);
    offset = offsetMinutes(zone, naive - offset * 60000);
    const sign = offset < 0 ? "-" : "+";
    return `${wall}${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`;
  }

  // The row's text, read back into the picker: the wall time in the zone chosen (or UTC).
  function readText(text, zone) {
    const match = ISO.exec(text.trim());
    if (!match || !match[2]) return null;
    const local = `${match[1]}T${match[2]}:${match[3] || "00"}`;
    const mark = match[4];
    if (!mark) return null; // no zone: the row's own message says it needs one
    if (mark === "Z") return { local: local, zone: "UTC" };
    const offset = (mark[0] === "-" ? -1 : 1) * (Number(mark.slice(1, 3)) * 60 + Number(mark.slice(-2)));
    const [y, mo, d] = match[1].split("-").map(Number);
    const [h, mi] = match[2].split(":").map(Number);
    const instant = Date.UTC(y, mo - 1, d, h, mi, Number(match[3] || 0)) - offset * 60000;
    for (const candidate of [zone, browserZone()]) {
      if (candidate && candidate !== "UTC" && offsetMinutes(candidate, instant) === offset) {
        return { local: local, zone: candidate };
      }
    }
    const utc = new Date(instant).toISOString().slice(0, 19);
    return { local: utc, zone: "UTC" };
  }

  function rowType(row) {
    const type = row.querySelector("select.kv-type");
    return type ? type.value : "";
  }

  function buildDatetimePicker(row) {
    const text = row.querySelector("input.kv-text[name$='__value']");
    if (!text) return null;
    const label = row.querySelector(".kv-label");
    const name = row.querySelector("input[name$='__key'][aria-label]"); // a custom row's name
    const what = label
      ? label.textContent.trim()
      : (name && name.getAttribute("aria-label").replace(/^Name of /, "")) || "this value";
    const box = document.createElement("div");
    box.className = "kv-datetime d-flex flex-wrap gap-1 mb-1";
    const dateOnly = row.hasAttribute("data-kv-date-only");
    const input = document.createElement("input");
    input.type = dateOnly ? "date" : "datetime-local";
    input.className = "form-control form-control-sm";
    input.setAttribute("aria-label", dateOnly ? `Date of ${what}` : `Date and time of ${what}`);
    if (!dateOnly) input.step = "1";
    box.append(input);
    let picker = null;
    if (!dateOnly) {
      const zone = document.createElement("select");
      zone.className = "form-select form-select-sm";
      zone.setAttribute("aria-label", `Time zone of ${what}`);
      box.append(zone);
      const known = readText(text.value, "");
      picker = zonePicker(zone, known ? known.zone : browserZone() || "UTC");
      if (known) input.value = known.local;
      const write = () => {
        text.value = input.value ? isoText(input.value, picker.getValue()) : "";
      };
      input.addEventListener("change", write);
      picker.on("change", write);
      text.addEventListener("change", () => {
        const read = readText(text.value, picker.getValue());
        if (!read) return;
        input.value = read.local;
        picker.setValue(read.zone, true);
      });
    } else {
      const match = /^\d{4}-\d{2}-\d{2}$/.exec(text.value.trim());
      if (match) input.value = match[0];
      input.addEventListener("change", () => {
        text.value = input.value;
      });
      text.addEventListener("change", () => {
        if (/^\d{4}-\d{2}-\d{2}$/.test(text.value.trim())) input.value = text.value.trim();
      });
    }
    text.classList.add("kv-datetime-text");
    text.parentElement.insertBefore(box, text);
    return box;
  }

  // Show the picker while the row's type is date-time; build it the first time.
  function syncDatetimeRow(row) {
    const wanted = rowType(row) === "datetime";
    let box = row.querySelector(".kv-datetime");
    if (wanted && !box) box = buildDatetimePicker(row);
    if (box) box.hidden = !wanted;
  }

  document.addEventListener("change", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (target && target.matches("select.kv-type")) {
      const row = target.closest(".kv-row");
      if (row) syncDatetimeRow(row);
    }
  });

  // --- Currency and event names ------------------------------------------------------------

  function enhanceSearchable(select) {
    if (select.dataset.pickerReady || typeof window.TomSelect !== "function") return;
    select.dataset.pickerReady = "1";
    // The htmx attributes stay on the <select>: tom-select fires its change event.
    searchable(select, {
      allowEmptyOption: true,
      maxOptions: null,
      refreshThrottle: 0,
      render: {
        no_results: () => '<div class="no-results">Nothing by that name.</div>',
      },
    });
  }

  // --- Choosing several (the Users page's source limits) ----------------------------------

  function enhanceMulti(select) {
    if (select.dataset.pickerReady || typeof window.TomSelect !== "function") return;
    select.dataset.pickerReady = "1";
    searchable(select, {
      maxOptions: null,
      refreshThrottle: 0,
      hidePlaceholder: true,
      placeholder: select.dataset.placeholder || "",
      plugins: { remove_button: { title: "Remove" } },
      render: {
        no_results: () => '<div class="no-results">Nothing by that name.</div>',
      },
    });
  }

  function enhance(root) {
    const scope = root && root.querySelectorAll ? root : document;
    scope.querySelectorAll("details[data-kv-pool]").forEach(enhancePool);
    if (typeof window.TomSelect !== "function") return;
    scope.querySelectorAll("select[data-zone-picker]").forEach(enhanceTimestampZone);
    scope.querySelectorAll("select[data-searchable-select]").forEach(enhanceSearchable);
    scope.querySelectorAll("select[data-multi-picker]").forEach(enhanceMulti);
    scope.querySelectorAll(".kv-row").forEach(syncDatetimeRow);
  }

  document.addEventListener("DOMContentLoaded", () => enhance(document));
  document.addEventListener("htmx:load", (event) => enhance(event.target));
})();
