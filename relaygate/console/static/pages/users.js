// Admin · Users: create, top up, group, role, enable/disable.

import { t } from "../i18n.js";
import { get, patch, post, query } from "../api.js";
import { formDialog } from "../dialogs.js";
import { field, formError, h, input, money, onSubmit, pager, select, table } from "../dom.js";
import { session } from "../app.js";

const PER_PAGE = 20;
const view = { q: "", page: 1 };
const ROLES = [
  ["user", "user"],
  ["admin", "admin"],
];

function editDialog(user, groups, refresh) {
  return formDialog(t("Manage {name}", { name: user.name }), (close) => {
    const settings = h(
      "form",
      { class: "user-settings" },
      formError(),
      field("Group", "group", select(groups, user.group)),
      field("Role", "role", select(user.role === "root" ? [["root", "root"]] : ROLES, user.role)),
      h("button", { type: "submit" }, "Save"),
    );
    onSubmit(settings, async (data) => {
      const changes = { group: data.get("group") };
      if (data.get("role") !== user.role) changes.role = data.get("role");
      await patch(`/users/${user.id}`, changes);
      close("saved");
      refresh();
    });
    const topUp = h(
      "form",
      { class: "user-topup" },
      h("h3", {}, "Top up"),
      formError(),
      field("Amount (USD)", "usd", input({ type: "number", step: "any", required: true, inputmode: "decimal" }), "Negative takes back, never below a zero balance."),
      field("Reason", "reason", input({ maxlength: 255 })),
      h("button", { type: "submit" }, "Top up"),
    );
    onSubmit(topUp, async (data) => {
      await post(`/users/${user.id}/topup`, { usd: String(data.get("usd")), reason: String(data.get("reason") || "") });
      close("saved");
      refresh();
    });
    return h("div", {}, settings, topUp, h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: () => close("cancel") }, "Close")));
  });
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

export async function usersPage() {
  const groups = (await get("/groups")).items.map((group) => [group.name, group.name]);
  const holder = h("div", {});
  const refresh = async () => {
    const page = await get("/users" + query({ q: view.q, page: view.page, per_page: PER_PAGE }));
    const rows = page.items.map((user) => [
      user.name,
      user.role,
      user.group,
      h("span", { class: `badge ${user.status}` }, user.status),
      money(user.balance),
      money(user.used_quota),
      user.request_count,
      h(
        "div",
        { class: "row-actions" },
        h("button", { type: "button", class: "secondary small", onclick: () => editDialog(user, groups, refresh) }, "Manage"),
        user.id === session.user.id
          ? null
          : h(
              "button",
              {
                type: "button",
                class: "secondary small",
                onclick: async () => {
                  await patch(`/users/${user.id}`, { status: user.status === "enabled" ? "disabled" : "enabled" });
                  refresh();
                },
              },
              user.status === "enabled" ? "Disable" : "Enable",
            ),
      ),
    ]);
    holder.replaceChildren(
      table(["Name", "Role", "Group", "Status", "Balance", "Used", "Requests", "Actions"], rows, "No users match."),
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
