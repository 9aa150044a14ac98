// Admin · Users: create, top up (saying it succeeded), group, role, rate limits, password reset,
// enable/disable and delete.

import { number, t } from "../i18n.js";
import { del, get, patch, post, query } from "../api.js";
import { confirmAction, formDialog } from "../dialogs.js";
import { field, formError, h, input, literal, money, onSubmit, optionalInt, pager, select, table, usd } from "../dom.js";
import { session } from "../app.js";

const PER_PAGE = 20;
const view = { q: "", page: 1 };
const ROLES = [
  ["user", "user"],
  ["admin", "admin"],
];
const LIMITS = [
  ["rpm", "Requests per minute"],
  ["tpm", "Tokens per minute"],
  ["max_concurrent", "Max concurrent"],
];

function limits(user) {
  const parts = [
    user.rpm ? t("{n} RPM", { n: number(user.rpm) }) : null,
    user.tpm ? t("{n} TPM", { n: number(user.tpm) }) : null,
    user.max_concurrent ? t("{n} concurrent", { n: number(user.max_concurrent) }) : null,
  ].filter(Boolean);
  return parts.length ? parts.join(" · ") : h("span", { class: "muted" }, "No limit");
}

// A result inside the dialog: the dialog stays open so the admin sees what happened.
const said = (slot, ...text) => slot.replaceChildren(h("p", { class: "notice ok" }, ...text));

function settingsForm(user, groups, refresh) {
  const result = h("div", { role: "status", class: "result" });
  const form = h(
    "form",
    { class: "user-settings" },
    formError(),
    h(
      "div",
      { class: "row" },
      field("Group", "group", select(groups, user.group)),
      field("Role", "role", select(user.role === "root" ? [["root", "root"]] : ROLES, user.role)),
    ),
    h("div", { class: "row" }, LIMITS.map(([name, label]) => field(label, name, input({ type: "number", min: 1, step: 1, inputmode: "numeric", value: user[name] ?? "" })))),
    h("p", { class: "hint" }, "Rate limits count all the user's tokens together. Blank: no limit."),
    h("button", { type: "submit" }, "Save"),
    result,
  );
  return onSubmit(form, async (data) => {
    result.replaceChildren();
    const changes = { group: data.get("group") };
    if (data.get("role") !== user.role) changes.role = data.get("role");
    for (const [name] of LIMITS) changes[name] = optionalInt(data.get(name));
    Object.assign(user, await patch(`/users/${user.id}`, changes));
    said(result, "Saved.");
    refresh();
  });
}

function topUpForm(user, refresh) {
  const result = h("div", { role: "status", class: "result" });
  const form = h(
    "form",
    { class: "user-topup" },
    h("h3", {}, "Top up"),
    formError(),
    field("Amount (USD)", "usd", input({ type: "number", step: "any", required: true, inputmode: "decimal" }), "Negative takes back, never below a zero balance."),
    field("Reason", "reason", input({ maxlength: 255 })),
    h("button", { type: "submit" }, "Top up"),
    result,
  );
  return onSubmit(form, async (data) => {
    result.replaceChildren(); // an earlier success must not stand beside this attempt's error
    const before = user.balance;
    const after = await post(`/users/${user.id}/topup`, { usd: String(data.get("usd")), reason: String(data.get("reason") || "") });
    user.balance = after.balance;
    form.reset();
    const change = after.balance - before;
    const amounts = { amount: usd(Math.abs(change)), balance: usd(after.balance) };
    said(result, t(change >= 0 ? "Added {amount}. Balance now {balance}." : "Took back {amount}. Balance now {balance}.", amounts));
    refresh();
  });
}

function passwordForm(user) {
  const result = h("div", { role: "status", class: "result" });
  const form = h(
    "form",
    { class: "user-password" },
    h("h3", {}, "Reset password"),
    formError(),
    field("New password", "password", input({ type: "password", required: true, minlength: 8, autocomplete: "new-password" }), "At least 8 characters. Every session of this user ends."),
    h("button", { type: "submit" }, "Set password"),
    result,
  );
  return onSubmit(form, async (data) => {
    result.replaceChildren();
    await post(`/users/${user.id}/password`, { password: String(data.get("password")) });
    form.reset();
    said(result, t("Password set. {name} is logged out everywhere.", { name: user.name }));
  });
}

function manageDialog(user, groups, refresh) {
  return formDialog(t("Manage {name}", { name: user.name }), (close) =>
    h(
      "div",
      {},
      settingsForm(user, groups, refresh),
      topUpForm(user, refresh),
      passwordForm(user),
      h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: () => close("done") }, "Close")),
    ),
  );
}

function createForm(groups, refresh) {
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "new-user" },
    h("h2", { id: "new-user" }, "Create user"),
    formError(),
    h(
      "div",
      { class: "row" },
      field("User name", "name", input({ required: true, maxlength: 64, autocomplete: "off" })),
      field("Password", "password", input({ type: "password", required: true, minlength: 8, autocomplete: "new-password" })),
    ),
    h(
      "div",
      { class: "row" },
      field("Role", "role", select(ROLES, "user")),
      field("Group", "group", select(groups, "default")),
      field("Balance (USD)", "balance_usd", input({ type: "number", min: 0, step: "any", value: "0" })),
    ),
    h("button", { type: "submit" }, "Create user"),
  );
  return onSubmit(form, async (data) => {
    await post("/users", {
      name: data.get("name"),
      password: data.get("password"),
      role: data.get("role"),
      group: data.get("group"),
      balance_usd: String(data.get("balance_usd") || "0"),
    });
    form.reset();
    refresh();
  });
}

function rowActions(user, groups, refresh) {
  const manage = h("button", { type: "button", class: "secondary small", onclick: () => manageDialog(user, groups, refresh) }, "Manage");
  if (user.id === session.user.id) return h("div", { class: "row-actions" }, manage);
  const toggle = async () => {
    await patch(`/users/${user.id}`, { status: user.status === "enabled" ? "disabled" : "enabled" });
    refresh();
  };
  const remove = async () => {
    const sure = await confirmAction(t("Delete {name}?", { name: user.name }), "Their tokens stop working at once and they can no longer log in. Their usage records stay.");
    if (!sure) return;
    await del(`/users/${user.id}`);
    refresh();
  };
  return h(
    "div",
    { class: "row-actions" },
    manage,
    h("button", { type: "button", class: "secondary small", onclick: toggle }, user.status === "enabled" ? "Disable" : "Enable"),
    h("button", { type: "button", class: "danger small", onclick: remove }, "Delete"),
  );
}

export async function usersPage() {
  const groups = (await get("/groups")).items.map((group) => [group.name, group.name]);
  const holder = h("div", {});
  const refresh = async () => {
    const page = await get("/users" + query({ q: view.q, page: view.page, per_page: PER_PAGE }));
    const rows = page.items.map((user) => [
      literal(user.name),
      user.role,
      user.group,
      h("span", { class: `badge ${user.status}` }, user.status),
      money(user.balance),
      money(user.used_quota),
      number(user.request_count),
      limits(user),
      rowActions(user, groups, refresh),
    ]);
    holder.replaceChildren(
      table(["Name", "Role", "Group", "Status", "Balance", "Used", "Requests", "Rate limits", "Actions"], rows, "No users match."),
      pager(view.page, PER_PAGE, page.total, (to) => {
        view.page = to;
        refresh();
      }),
    );
  };
  const search = input({ type: "search", value: view.q });
  const filter = h("form", { class: "filters", role: "search" }, field("Search", "q", search), h("button", { type: "submit", class: "secondary" }, "Search"));
  filter.addEventListener("submit", (event) => {
    event.preventDefault();
    Object.assign(view, { q: search.value.trim(), page: 1 });
    refresh();
  });
  await refresh();
  return h("section", {}, h("h1", {}, "Users"), filter, holder, createForm(groups, refresh));
}
