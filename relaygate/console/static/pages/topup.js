// Top up: redeem a code to add its quota to the balance.

import { post } from "../api.js";
import { field, formError, h, input, money, onSubmit } from "../dom.js";
import { session } from "../app.js";

export async function topUpPage() {
  const me = await session.refresh();
  const balance = h("p", { class: "stat-value", id: "balance" }, money(me.balance));
  const result = h("div", { role: "status" });
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "redeem-title" },
    h("h2", { id: "redeem-title" }, "Redeem a code"),
    formError(),
    field("Redemption code", "code", input({ required: true, autocomplete: "off", maxlength: 128 })),
    h("button", { type: "submit" }, "Redeem"),
    result,
  );
  onSubmit(form, async (data) => {
    result.replaceChildren(); // an earlier "Added ..." must not stand beside this attempt's error
    const redeemed = await post("/redeem", { code: String(data.get("code")).trim() });
    form.reset();
    balance.replaceChildren(money(redeemed.balance));
    result.replaceChildren(h("p", { class: "notice ok" }, "Added ", money(redeemed.quota), " to your balance."));
    await session.refresh();
  });
  return h("section", {}, h("h1", {}, "Top up"), h("div", { class: "stat" }, h("p", { class: "stat-label" }, "Balance"), balance), form);
}
