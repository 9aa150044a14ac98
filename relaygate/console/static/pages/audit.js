// Admin · Audit log: management actions, newest first, filtered by action prefix.

import { get, query } from "../api.js";
import { field, h, input, pager, table, time } from "../dom.js";

const PER_PAGE = 30;
const view = { action: "", page: 1 };

export async function auditPage() {
  const holder = h("div", {});
  const refresh = async () => {
    const page = await get("/audit" + query({ action: view.action, page: view.page, per_page: PER_PAGE }));
    const rows = page.items.map((entry) => [
      time(entry.created_at),
      entry.actor_name,
      h("code", {}, entry.action),
      entry.target,
      h("code", { class: "wrap" }, Object.keys(entry.detail).length ? JSON.stringify(entry.detail) : ""),
      entry.ip,
    ]);
    holder.replaceChildren(
      table(["Time", "Who", "Action", "Target", "Detail", "IP"], rows, "No actions recorded."),
      pager(view.page, PER_PAGE, page.total, (to) => {
        view.page = to;
        refresh();
      }),
    );
  };
  const action = input({ value: view.action, placeholder: "token." });
  const form = h("form", { class: "filters", role: "search" }, field("Action", "action", action, "An action or its start, e.g. token."), h("button", { type: "submit", class: "secondary" }, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    Object.assign(view, { action: action.value.trim(), page: 1 });
    refresh();
  });
  await refresh();
  return h("section", {}, h("h1", {}, "Audit log"), form, holder);
}
