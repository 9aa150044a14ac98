// Account: who you are, and changing the password (which ends your other sessions).

import { post } from "../api.js";
import { field, formError, h, input, money, onSubmit, time } from "../dom.js";
import { session } from "../app.js";
import { number } from "../i18n.js";

export async function accountPage() {
  const me = await session.refresh();
  const done = h("div", { role: "status" });
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "password-title" },
    h("h2", { id: "password-title" }, "Change password"),
    formError(),
    field("Current password", "current_password", input({ type: "password", autocomplete: "current-password", required: true })),
    field("New password", "new_password", input({ type: "password", autocomplete: "new-password", required: true, minlength: 8 }), "At least 8 characters. Your other sessions are logged out."),
    h("button", { type: "submit" }, "Change password"),
    done,
  );
  onSubmit(form, async (data) => {
    await post("/me/password", { current_password: data.get("current_password"), new_password: data.get("new_password") });
    form.reset();
    done.replaceChildren(h("p", { class: "notice ok" }, "Password changed."));
  });
  const facts = [
    ["User name", me.name],
    ["Role", me.role],
    ["Group", me.group],
    ["Balance", money(me.balance)],
    ["Used", money(me.used_quota)],
    ["Requests", number(me.request_count)],
    ["Member since", time(me.created_at)],
  ];
  return h(
    "section",
    {},
    h("h1", {}, "Account"),
    h("dl", { class: "facts card narrow" }, facts.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
    form,
  );
}
