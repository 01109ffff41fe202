// Small DOM helpers: an element builder, labelled fields, forms that show problem+json errors.
import { ApiError } from "./api.js";
import { getLang, has, t } from "./i18n.js";

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

/** The problem's detail under a translated prefix, and each named field's message by its input. */
export function showProblem(form, err) {
  clearErrors(form);
  const status = err instanceof ApiError ? err.status : 0;
  const prefix = has(`err.${status}`) ? t(`err.${status}`) : t("err.generic");
  const unplaced = [];
  if (err instanceof ApiError) {
    for (const { field: name, message } of err.fieldErrors()) {
      const slot = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
      if (slot) {
        slot.classList.add("invalid");
        slot.querySelector(".error").textContent = message;
      } else {
        unplaced.push(`${name}: ${message}`);
      }
    }
  }
  const detail = err instanceof ApiError ? err.problem.detail || err.message : String(err);
  const box = h("div", { class: "form-error", role: "alert" },
    h("strong", { text: `${prefix}: ` }), detail,
    unplaced.length ? h("ul", {}, unplaced.map((u) => h("li", { text: u }))) : null);
  form.prepend(box);
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
      await action(Object.fromEntries(new FormData(el)), el);
    } catch (err) {
      if (!(err instanceof ApiError)) console.warn(err);
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
