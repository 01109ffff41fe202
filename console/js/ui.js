// Small DOM helpers: an element builder, labelled fields, forms that show problem+json errors.
import { ApiError, loadProblemTypes, problemType } from "./api.js";
import { getLang, has, t } from "./i18n.js";

loadProblemTypes(); // the error sentences, ready before the first error is shown

/** h("div", {class: "x", onclick: fn}, child, [children], "text") -> element; text is never HTML. */
export function h(tag, props = {}, ...children) {
  const svg = tag.startsWith("svg:");
  const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else if (key === "value" && !svg) el.value = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A labelled input whose error slot is found by the API's field name. */
export function field(labelKey, name, input, hintKey) {
  input.name = input.name || name;
  input.id = input.id || `f-${name}-${Math.random().toString(36).slice(2, 8)}`;
  return h("div", { class: "field", "data-field": name },
    h("label", { for: input.id, text: t(labelKey) }), input,
    hintKey ? h("small", { class: "hint", text: t(hintKey) }) : null,
    h("small", { class: "error", role: "alert" }));
}

export const input = (name, props = {}) => h("input", { name, ...props });

export function select(name, options, { value, ...props } = {}) {
  const el = h("select", { name, ...props },
    options.map(([v, label]) => h("option", { value: v, text: label })));
  if (value !== undefined) el.value = value;
  return el;
}

export function card(titleKey, ...children) {
  return h("section", { class: "card" }, titleKey ? h("h2", { text: t(titleKey) }) : null, children);
}

function clearErrors(form) {
  form.querySelectorAll(".field.invalid").forEach((f) => f.classList.remove("invalid"));
  form.querySelectorAll(".field .error").forEach((e) => { e.textContent = ""; });
  form.querySelector(".form-error")?.remove();
}

/** The sentence for a problem in the user's language: the catalogue's title for its code, else
 * one per status. */
function problemTitle(err) {
  const known = problemType(err.code);
  if (known) return getLang() === "en" ? known.title_en : known.title_zh;
  const key = `problem.status.${err.status}`;
  return has(key) ? t(key) : t("problem.status.other");
}

/** A field's message: from pydantic's `kind` and its limits when the request was refused by
 * validation; else (a rule of the domain naming the field) the problem's own sentence. */
function fieldMessage(error, err) {
  if (!error.kind) return problemTitle(err);
  const key = `problem.kind.${error.kind}`;
  if (getLang() === "en" && (!has(key) || error.kind === "value_error")) {
    return String(error.message || "").replace(/^Value error, /, ""); // pydantic's own English
  }
  return has(key) ? t(key, error.ctx || {}) : t("problem.field_invalid");
}

/** The problem in the user's language: its sentence on top, each field's message beside its input
 * (fields the form lacks listed below the sentence), the API's English detail as a smaller line
 * in English and folded away in Chinese. */
export function showProblem(form, err) {
  clearErrors(form);
  const api = err instanceof ApiError ? err : new ApiError(0, { detail: String(err?.message || err) });
  const unplaced = [];
  for (const error of api.fieldErrors()) {
    const message = fieldMessage(error, api);
    const slot = form.querySelector(`[data-field="${CSS.escape(error.field)}"]`);
    if (slot) {
      slot.classList.add("invalid");
      slot.querySelector(".error").textContent = message;
    } else if (error.kind) { // a domain rule's sentence is the title already
      unplaced.push(`${error.field}: ${message}`);
    }
  }
  const title = h("strong", { class: "problem-title", text: problemTitle(api) });
  const detail = api.problem.detail || api.message;
  const more = !detail || detail === title.textContent ? null : getLang() === "en"
    ? h("small", { class: "problem-detail", text: detail })
    : h("details", { class: "problem-detail" }, h("summary", { text: t("problem.details") }),
      h("small", { text: detail }));
  const box = h("div", { class: "form-error", role: "alert", "data-problem": api.code || api.status },
    title, more, unplaced.length ? h("ul", {}, unplaced.map((u) => h("li", { text: u }))) : null);
  form.prepend(box);
  if (!problemType(api.code) && api.code) {
    // the catalogue was still loading: put its sentence in once it is there
    loadProblemTypes().then(() => {
      if (box.isConnected && problemType(api.code)) title.textContent = problemTitle(api);
      for (const error of api.fieldErrors().filter((e) => !e.kind)) {
        const slot = form.querySelector(`[data-field="${CSS.escape(error.field)}"].invalid .error`);
        if (slot) slot.textContent = problemTitle(api);
      }
    });
  }
}

/** Success messages (`.ok`) that belong to `form`: inside it, or in the nearest result area
 * (`.result`) beside it or beside one of its three nearest containers. */
function staleSuccess(form) {
  const found = [...form.querySelectorAll(".ok")];
  let node = form;
  for (let level = 0; level < 3 && node.parentElement; level++, node = node.parentElement) {
    const results = [...node.parentElement.children].filter((c) => c !== node && c.matches(".result"));
    if (results.length) {
      results.forEach((r) => found.push(...r.querySelectorAll(".ok")));
      break;
    }
  }
  return found;
}

/** Field errors found before sending (e.g. a redemption that is not whole credits). */
export function localError(form, name, message) {
  clearErrors(form);
  const slot = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
  slot.classList.add("invalid");
  slot.querySelector(".error").textContent = message;
}

/** A form whose submit runs `action(values)`; errors are shown in place, the button is locked. */
export function form(props, children, action) {
  const el = h("form", { novalidate: true, ...props }, children);
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = el.querySelector("button[type=submit]");
    if (button?.disabled) return;
    if (button) button.disabled = true;
    clearErrors(el);
    try {
      await action(Object.fromEntries(new FormData(el)), el); // errors were cleared above
    } catch (err) {
      if (!(err instanceof ApiError)) console.warn(err);
      staleSuccess(el).forEach((ok) => ok.remove()); // nor an error under an older success
      showProblem(el, err);
    } finally {
      if (button) button.disabled = false;
    }
  });
  return el;
}

export const submit = (labelKey, props = {}) =>
  h("button", { type: "submit", class: "primary", ...props, text: t(labelKey) });

/** A table: columns are [headerKey, row => cell]; an empty list says so. */
export function table(columns, rows, props = {}) {
  if (!rows.length) return h("p", { class: "empty", text: t("common.none") });
  return h("div", { class: "table-wrap" }, h("table", props,
    h("thead", {}, h("tr", {}, columns.map(([key]) => h("th", { text: t(key) })))),
    h("tbody", {}, rows.map((row) => h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(row))))))));
}

export function num(value, digits) {
  const n = Number(value);
  if (!Number.isFinite(n)) return String(value ?? "");
  const opts = digits === undefined ? {} : { maximumFractionDigits: digits };
  return n.toLocaleString(getLang() === "zh" ? "zh-CN" : "en-GB", opts);
}

export function when(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(getLang() === "zh" ? "zh-CN" : "en-GB");
}

export const stat = (labelKey, value, name) =>
  h("div", { class: "stat", "data-stat": name }, h("span", { text: t(labelKey) }), h("strong", { text: value }));

export const badge = (state) => h("span", { class: `badge state-${state}`, text: t(`state.${state}`) });

/** Load into `el`, showing a spinner, then the error (in the user's language) if any. */
export async function load(el, build) {
  replace(el, h("p", { class: "loading", text: t("common.loading") }));
  try {
    replace(el, await build());
  } catch (err) {
    const wrap = h("div", {});
    showProblem(wrap, err);
    replace(el, wrap);
  }
}
