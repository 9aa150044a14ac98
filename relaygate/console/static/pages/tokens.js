// Tokens: the list (search, status filter, pages), Create Token, Edit, enable/disable, Rotate, Delete.

import { del, get, patch, post, query } from "../api.js";
import { confirmAction, formDialog, showSecrets } from "../dialogs.js";
import {
  QUOTA_PER_USD,
  field,
  formError,
  h,
  input,
  isoToLocal,
  list,
  localToIso,
  money,
  notice,
  onSubmit,
  optionalInt,
  pager,
  select,
  table,
  time,
  usdToQuota,
} from "../dom.js";
import { session } from "../app.js";
import { ApiError } from "../api.js";
import { rememberKey } from "../keys.js";
import { number as formatNumber, t } from "../i18n.js";

const RESETS = [
  ["none", "None"],
  ["daily", "Daily"],
  ["weekly", "Weekly"],
  ["monthly", "Monthly"],
];
const PER_PAGE = 10;
const view = { q: "", status: "", page: 1 };

// The Create Token and Edit forms: every option of the token, in the seed's words.
function tokenFields(token, creating) {
  const unlimited = token ? token.unlimited : true;
  const quota = h("input", {
    type: "number",
    min: 0,
    step: "any",
    inputmode: "decimal",
    value: token && token.quota_limit !== null ? token.quota_limit / QUOTA_PER_USD : "",
    disabled: unlimited,
  });
  const unlimitedBox = h("input", { type: "checkbox", checked: unlimited });
  unlimitedBox.addEventListener("change", () => {
    quota.disabled = unlimitedBox.checked;
    if (!quota.disabled) quota.focus();
  });
  const number = (value, attributes = {}) =>
    h("input", { type: "number", min: 1, step: 1, inputmode: "numeric", value: value ?? "", ...attributes });
  return [
    field("Name", "name", input({ maxlength: 128, value: token ? token.name : "", placeholder: "production" })),
    field(
      "Expiration",
      "expires_at",
      h("input", { type: "datetime-local", value: token ? isoToLocal(token.expires_at) : "" }),
      "Optional; leave blank for no expiry. In your time zone.",
    ),
    field("Unlimited quota", "unlimited", unlimitedBox, "No per-token cap (account balance still applies)."),
    field("Quota (USD)", "quota_limit", quota, t("Cap usage for this token. 1 USD = {units} quota units.", { units: formatNumber(QUOTA_PER_USD) })),
    field(
      "Model restrictions",
      "models",
      h("textarea", { rows: 2, placeholder: "gpt-4o-mini, gpt-4o" }, token ? token.models.join(", ") : ""),
      "Allow only these models (comma or space separated); blank allows all.",
    ),
    field(
      "IP allowlist",
      "allow_ips",
      h("textarea", { rows: 2, placeholder: "203.0.113.7, 10.0.0.0/8" }, token ? token.allow_ips.join(", ") : ""),
      "Restrict caller IP addresses and CIDR ranges; blank allows any.",
    ),
    field(
      "Group",
      "group",
      input({ value: token ? token.group ?? "" : "", placeholder: session.user.group }),
      "Blank uses your account's group.",
    ),
    h(
      "div",
      { class: "row" },
      field("Requests per minute", "rpm", number(token?.rpm), "Blank: no limit."),
      field("Tokens per minute", "tpm", number(token?.tpm), "Blank: no limit."),
      field("Max concurrent", "max_concurrent", number(token?.max_concurrent), "Blank: no limit."),
    ),
    field("Quota reset", "reset", select(RESETS, token?.reset ?? "none"), "Start the token's used quota again each period."),
    creating ? field("Batch count", "count", number(1, { max: 100, required: true }), "Create this many tokens with these settings.") : null,
  ];
}

function tokenBody(data) {
  const unlimited = data.get("unlimited") === "on";
  const group = String(data.get("group") || "").trim();
  const reset = data.get("reset");
  return {
    name: String(data.get("name") || ""),
    expires_at: localToIso(data.get("expires_at")),
    quota_limit: unlimited ? null : usdToQuota(data.get("quota_limit") || 0),
    models: list(data.get("models")),
    allow_ips: list(data.get("allow_ips")),
    group: group || null,
    rpm: optionalInt(data.get("rpm")),
    tpm: optionalInt(data.get("tpm")),
    max_concurrent: optionalInt(data.get("max_concurrent")),
    reset: reset === "none" ? null : reset,
  };
}

// Create Token opens in a dialog (as in new-api); after Submit the one-time dialog shows the new keys.
export function createDialog(refresh) {
  return formDialog("Create Token", (close) => {
    const form = h(
      "form",
      { class: "create-token" },
      formError(),
      tokenFields(null, true),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => close("cancel") }, "Cancel"),
        h("button", { type: "submit" }, "Submit"),
      ),
    );
    return onSubmit(form, async (data) => {
      const body = { ...tokenBody(data), count: optionalInt(data.get("count")) ?? 1 };
      const created = await post("/tokens", body);
      close("created");
      created.items.forEach((item) => rememberKey(item.name || item.hint, item.key));
      await showSecrets(
        created.items.length > 1 ? t("{n} new tokens", { n: created.items.length }) : "Your new token",
        created.items.map((item) => item.key),
        "Copy the full key now: it is shown only this once. The list shows only its start and end.",
      );
      refresh();
    });
  });
}

function editDialog(token, refresh) {
  return formDialog(t("Edit {name}", { name: token.name || token.hint }), (close) => {
    const form = h(
      "form",
      { class: "edit-token" },
      formError(),
      tokenFields(token, false),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => close("cancel") }, "Cancel"),
        h("button", { type: "submit" }, "Save"),
      ),
    );
    return onSubmit(form, async (data) => {
      await patch(`/tokens/${token.id}`, tokenBody(data));
      close("saved");
      refresh();
    });
  });
}

function quotaCell(token) {
  if (token.unlimited) return h("span", {}, money(token.used_quota), " / Unlimited");
  return h("span", {}, money(token.used_quota), " / ", money(token.quota_limit));
}

// What the list's badge says: an enabled token past its expiry or its quota is not usable, so not green.
export function shownStatus(token, at = Date.now()) {
  if (token.status !== "enabled") return token.status;
  if (token.expires_at && Date.parse(token.expires_at) <= at) return "expired";
  if (!token.unlimited && token.quota_limit !== null && token.used_quota >= token.quota_limit) return "exhausted";
  return "enabled";
}

// Models, IP allowlist, limits and group of a token, as small chips that wrap at phone width.
function glance(token) {
  const chip = (label, text) => h("span", { class: "chip", title: `${t(label)}: ${t(text)}` }, h("b", {}, label), text);
  const limits = [
    token.rpm ? t("{n} RPM", { n: formatNumber(token.rpm) }) : null,
    token.tpm ? t("{n} TPM", { n: formatNumber(token.tpm) }) : null,
    token.max_concurrent ? t("{n} concurrent", { n: formatNumber(token.max_concurrent) }) : null,
  ].filter(Boolean);
  return h(
    "div",
    { class: "glance" },
    chip("Models", token.models.length ? token.models.join(", ") : "All"),
    chip("IPs", token.allow_ips.length ? token.allow_ips.join(", ") : "Any"),
    chip("Limits", limits.length ? limits.join(" · ") : "None"),
    chip("Group", token.group || "Account's"),
    token.reset ? chip("Reset", t(token.reset[0].toUpperCase() + token.reset.slice(1))) : null,
  );
}

export const GONE = "This key can no longer be shown. Create or rotate a token for a new key.";

// Copy: the full key of a token still sealed, revealed once (then the server keeps only its hash).
function copyButton(token, label, refresh, say) {
  if (!token.revealable) {
    return h(
      "button",
      { type: "button", class: "secondary small", disabled: true, title: "Create or rotate a token for a new key." },
      "Copy",
    );
  }
  return h(
    "button",
    {
      type: "button",
      class: "secondary small copy-key",
      "aria-label": t("Copy the key of {name}", { name: label }),
      onclick: async () => {
        let revealed;
        try {
          revealed = await post(`/tokens/${token.id}/reveal`);
        } catch (error) {
          if (!(error instanceof ApiError) || error.code !== "key_not_available") throw error;
          say(GONE);
          refresh();
          return;
        }
        rememberKey(label, revealed.key);
        let copied = true;
        try {
          await navigator.clipboard.writeText(revealed.key);
        } catch {
          copied = false;
        }
        await showSecrets(
          t("The key of {name}", { name: label }),
          [revealed.key],
          copied
            ? "Copied to the clipboard. It is shown only this once: the list cannot show it again."
            : "It is shown only this once: copy it now, the list cannot show it again.",
        );
        refresh();
      },
    },
    "Copy",
  );
}

function actions(token, refresh, say) {
  const enabled = token.status === "enabled";
  const label = token.name || token.hint;
  return h(
    "div",
    { class: "row-actions" },
    copyButton(token, label, refresh, say),
    h("button", { type: "button", class: "secondary small", onclick: () => editDialog(token, refresh) }, "Edit"),
    h(
      "button",
      {
        type: "button",
        class: "secondary small",
        role: "switch",
        "aria-checked": String(enabled),
        "aria-label": t(enabled ? "Disable {name}" : "Enable {name}", { name: label }),
        onclick: async () => {
          await post(`/tokens/${token.id}/${enabled ? "disable" : "enable"}`);
          refresh();
        },
      },
      enabled ? "Disable" : "Enable",
    ),
    h(
      "button",
      {
        type: "button",
        class: "secondary small",
        onclick: async () => {
          const sure = await confirmAction(
            t("Rotate {name}?", { name: label }),
            "The current key stops working at once; the new key is shown once.",
            "Rotate",
          );
          if (!sure) return;
          const rotated = await post(`/tokens/${token.id}/rotate`);
          rememberKey(label, rotated.key);
          await showSecrets("The rotated token", [rotated.key], "Copy the new key now: it is shown only this once.");
          refresh();
        },
      },
      "Rotate",
    ),
    h(
      "button",
      {
        type: "button",
        class: "danger small",
        onclick: async () => {
          const sure = await confirmAction(t("Delete {name}?", { name: label }), "The key is revoked immediately. This cannot be undone.");
          if (!sure) return;
          await del(`/tokens/${token.id}`);
          refresh();
        },
      },
      "Delete",
    ),
  );
}

function filters(refresh) {
  const search = input({ type: "search", value: view.q, placeholder: "Name or key start" });
  const status = select(
    [
      ["", "All"],
      ["enabled", "Enabled"],
      ["disabled", "Disabled"],
    ],
    view.status,
  );
  const form = h(
    "form",
    { class: "filters", role: "search" },
    field("Search", "q", search),
    field("Status", "status", status),
    h("button", { type: "submit", class: "secondary" }, "Search"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    Object.assign(view, { q: search.value.trim(), status: status.value, page: 1 });
    refresh();
  });
  status.addEventListener("change", () => form.requestSubmit());
  return form;
}

async function tokenList(refresh, say) {
  const page = await get("/tokens" + query({ q: view.q, status: view.status, page: view.page, per_page: PER_PAGE }));
  const searching = view.q || view.status;
  const empty = searching
    ? "No tokens match."
    : h(
        "span",
        {},
        "No tokens yet: ",
        h("button", { type: "button", class: "link-button", onclick: () => createDialog(refresh) }, "Create Token"),
      );
  const rows = page.items.map((token) => [
    h("span", { class: "token-name" }, token.name || h("span", { class: "muted" }, "(no name)")),
    h("code", { class: "hint" }, token.hint),
    h("span", { class: `badge ${shownStatus(token)}` }, shownStatus(token)),
    quotaCell(token),
    glance(token),
    time(token.expires_at, "Never"),
    actions(token, refresh, say),
  ]);
  return h(
    "div",
    { id: "token-list" },
    table(["Name", "Key", "Status", "Quota usage", "Access", "Expiration", "Actions"], rows, empty),
    page.total > PER_PAGE
      ? pager(view.page, PER_PAGE, page.total, (to) => {
          view.page = to;
          refresh();
        })
      : null,
  );
}

export async function tokensPage() {
  const holder = h("div", {});
  const message = h("div", { class: "token-message" });
  const say = (text) => message.replaceChildren(notice(text, "bad"));
  const refresh = async () => {
    try {
      holder.replaceChildren(await tokenList(refresh, say));
    } catch (error) {
      holder.replaceChildren(notice(error.message, "bad"));
    }
  };
  await refresh();
  return h(
    "section",
    {},
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, "Tokens"),
      h("button", { type: "button", class: "create-token", onclick: () => createDialog(refresh) }, "Create Token"),
    ),
    h("p", { class: "muted" }, "API tokens (sk-…) for /v1 and the other relay routes. A full key is shown only once, when it is created or rotated."),
    filters(refresh),
    message,
    holder,
  );
}
