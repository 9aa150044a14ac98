// Admin · Redemption codes: create (each code shown once) and list.

import { t } from "../i18n.js";
import { get, post, query } from "../api.js";
import { showSecrets } from "../dialogs.js";
import { field, formError, h, input, money, onSubmit, pager, table, time, usdToQuota } from "../dom.js";

const PER_PAGE = 20;
const view = { page: 1 };

export async function codesPage() {
  const holder = h("div", {});
  const refresh = async () => {
    const page = await get("/redemptions" + query({ page: view.page, per_page: PER_PAGE }));
    const rows = page.items.map((code) => [
      h("code", {}, code.hint),
      money(code.quota),
      time(code.created_at),
      code.redeemed_by === null ? h("span", { class: "badge enabled" }, "unused") : t("user {id}", { id: code.redeemed_by }),
      time(code.redeemed_at, "—"),
    ]);
    holder.replaceChildren(
      table(["Code", "Value", "Created", "Redeemed by", "Redeemed"], rows, "No redemption codes yet: create some below."),
      pager(view.page, PER_PAGE, page.total, (to) => {
        view.page = to;
        refresh();
      }),
    );
  };
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "new-codes" },
    h("h2", { id: "new-codes" }, "Create codes"),
    formError(),
    h(
      "div",
      { class: "row" },
      field("Count", "count", input({ type: "number", min: 1, max: 100, step: 1, value: "1", required: true })),
      field("Value (USD)", "quota", input({ type: "number", min: 0, step: "any", required: true, inputmode: "decimal" }), "Each code credits this much."),
    ),
    h("button", { type: "submit" }, "Create codes"),
  );
  onSubmit(form, async (data) => {
    const created = await post("/redemptions", { count: Number(data.get("count")), quota: usdToQuota(data.get("quota")) });
    form.reset();
    await showSecrets("New redemption codes", created.items.map((item) => item.code), "Copy the codes now: each is shown only this once.");
    refresh();
  });
  await refresh();
  return h("section", {}, h("h1", {}, "Redemption codes"), holder, form);
}
