// Building the page: elements, form fields with labels and error slots, amounts and times.

import { dateTime, errorText, locale, number, t } from "./i18n.js";

export const QUOTA_PER_USD = 500000;
const TRANSLATED_ATTRIBUTES = new Set(["placeholder", "aria-label", "title"]);

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, TRANSLATED_ATTRIBUTES.has(name) ? t(String(value)) : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    // A string child is text of the console (translated when the dictionary has it); numbers stay as they are.
    const text = typeof child === "string" ? t(child) : String(child);
    element.append(child instanceof Node ? child : document.createTextNode(text));
  }
}

// Text that is data (a user's name, a model), never translated even when it spells a console word ("root").
export const literal = (text) => document.createTextNode(String(text ?? ""));

let fieldCounter = 0;

// One labelled field: <label for>, the control, an optional hint, and a slot for the API's error.
export function field(label, name, control, hint) {
  const id = `f-${name}-${++fieldCounter}`;
  control.id = id;
  if (!control.name) control.name = name;
  const errorId = id + "-error";
  const described = [errorId];
  const parts = [];
  if (hint) {
    parts.push(h("p", { class: "hint", id: id + "-hint" }, hint));
    described.push(id + "-hint");
  }
  control.setAttribute("aria-describedby", described.join(" "));
  const isCheck = control.type === "checkbox";
  return h(
    "div",
    { class: isCheck ? "field check" : "field", "data-field": name },
    isCheck ? [control, h("label", { for: id }, label)] : [h("label", { for: id }, label), control],
    parts,
    h("p", { class: "error", id: errorId, role: "alert", "data-error-for": name }),
  );
}

export const input = (attributes = {}) => h("input", { type: "text", ...attributes });

export function select(options, value, attributes = {}) {
  return h(
    "select",
    attributes,
    options.map(([optionValue, text]) => h("option", { value: optionValue, selected: optionValue === value }, text)),
  );
}

// The API's error, next to the field it names (`fields`), else at the top of the form.
export function showError(form, error) {
  clearErrors(form);
  let placed = false;
  for (const [name, message] of Object.entries(error.fields || {})) {
    const key = name.split(".")[0];
    const slot = form.querySelector(`[data-error-for="${CSS.escape(key)}"]`);
    if (slot) {
      slot.textContent = inLanguage(error, inOwnWords(message, key, slot.closest(".field")?.querySelector("label")?.textContent));
      slot.closest(".field")?.classList.add("invalid");
      placed = true;
    }
  }
  const banner = form.querySelector(".form-error");
  if (banner && (!placed || !error.fields)) banner.textContent = inLanguage(error, error.message);
  const firstInvalid = form.querySelector(".invalid input, .invalid select, .invalid textarea");
  if (firstInvalid) firstInvalid.focus();
}

// The API names its fields (`allow_ips entry ... is not valid`); a person knows them by the form's labels.
function inOwnWords(message, name, label) {
  if (!label) return message;
  const apiName = new RegExp(`^${name.replace(/[^a-z0-9_]/gi, "")}\\b`, "i");
  return message.replace(apiName, label);
}

// The server's messages are English: in another language the console leads with its own words for the code.
export function inLanguage(error, detail) {
  const own = errorText(error);
  return own === error.message || locale === "en" ? detail : `${own}（${detail}）`;
}

export function clearErrors(form) {
  for (const slot of form.querySelectorAll(".error")) slot.textContent = "";
  for (const invalid of form.querySelectorAll(".invalid")) invalid.classList.remove("invalid");
  const banner = form.querySelector(".form-error");
  if (banner) banner.textContent = "";
}

export const formError = () => h("p", { class: "form-error", role: "alert" });

// Submit handler: disables the button while the call runs and shows any API error in the form.
export function onSubmit(form, action) {
  form.method = "post"; // never GET: a password must not reach a URL even if this handler failed
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      await action(new FormData(form));
    } catch (error) {
      if (!error || error.status === undefined) throw error;
      showError(form, error);
    } finally {
      if (button) button.disabled = false;
    }
  });
  return form;
}

export function usd(quota) {
  const value = Number(quota || 0) / QUOTA_PER_USD;
  const digits = value !== 0 && Math.abs(value) < 0.01 ? 6 : 2;
  const format = { style: "currency", currency: "USD", currencyDisplay: "narrowSymbol" };
  return number(value, { ...format, minimumFractionDigits: 2, maximumFractionDigits: digits });
}

// An amount in USD with the raw quota units in its title (and for screen readers).
export function money(quota) {
  const title = t("{units} quota units", { units: number(quota) });
  return h("span", { class: "money", title, "data-quota": quota }, usd(quota));
}

export function when(iso) {
  if (!iso) return "";
  return dateTime(iso);
}

export function time(iso, empty = "never") {
  if (!iso) return h("span", { class: "muted" }, empty);
  return h("time", { datetime: iso, title: iso }, when(iso));
}

// `datetime-local` value (the browser's zone) to ISO-8601 UTC, and back.
export function localToIso(value) {
  return value ? new Date(value).toISOString() : null;
}

export function isoToLocal(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function list(text) {
  return String(text || "")
    .split(/[\s,]+/)
    .map((item) => item.trim())
    .filter(Boolean);
}

export function optionalInt(value) {
  const text = String(value ?? "").trim();
  return text === "" ? null : Number(text);
}

export function usdToQuota(value) {
  return Math.round(Number(value) * QUOTA_PER_USD);
}

export function table(headers, rows, emptyState) {
  if (!rows.length) return h("div", { class: "empty" }, emptyState);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col" }, text)))),
      h(
        "tbody",
        {},
        rows.map((cells) =>
          h(
            "tr",
            {},
            cells.map((cell, index) => h("td", { "data-label": t(headers[index]) }, cell)),
          ),
        ),
      ),
    ),
  );
}

export function pager(page, perPage, total, go) {
  const pages = Math.max(1, Math.ceil(total / perPage));
  return h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    h("button", { type: "button", class: "secondary", disabled: page <= 1, onclick: () => go(page - 1) }, "Previous"),
    h("span", {}, t("Page {page} of {pages} · {total} in all", { page, pages, total: number(total) })),
    h("button", { type: "button", class: "secondary", disabled: page >= pages, onclick: () => go(page + 1) }, "Next"),
  );
}

export function notice(text, kind = "ok") {
  return h("p", { class: `notice ${kind}`, role: "status" }, text);
}
