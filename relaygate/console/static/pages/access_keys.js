// Access keys: management credentials (ak-…) for scripts calling /api; each shown once.

import { t } from "../i18n.js";
import { del, get, post } from "../api.js";
import { confirmAction, showSecrets } from "../dialogs.js";
import { field, formError, h, input, onSubmit, table, time } from "../dom.js";

export async function accessKeysPage() {
  const holder = h("div", {});
  const refresh = async () => {
    const keys = (await get("/access-keys")).items;
    const rows = keys.map((key) => [
      key.name || h("span", { class: "muted" }, "(no name)"),
      h("code", {}, key.hint),
      time(key.created_at),
      time(key.last_used_at),
      h(
        "button",
        {
          type: "button",
          class: "danger small",
          onclick: async () => {
            if (!(await confirmAction(t("Delete {name}?", { name: key.name || key.hint }), "Scripts using this key stop working at once."))) return;
            await del(`/access-keys/${key.id}`);
            refresh();
          },
        },
        "Delete",
      ),
    ]);
    holder.replaceChildren(table(["Name", "Key", "Created", "Last used", "Actions"], rows, "No access keys yet: create one below."));
  };
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "new-ak" },
    h("h2", { id: "new-ak" }, "Create access key"),
    formError(),
    field("Name", "name", input({ maxlength: 128, placeholder: "deploy script" })),
    h("button", { type: "submit" }, "Create"),
  );
  onSubmit(form, async (data) => {
    const created = await post("/access-keys", { name: String(data.get("name") || "") });
    form.reset();
    await showSecrets("Your new access key", [created.key], "Copy it now: it is shown only this once. Send it as 'Authorization: Bearer ak-…' to /api.");
    refresh();
  });
  await refresh();
  return h(
    "section",
    {},
    h("h1", {}, "Access keys"),
    h("p", { class: "muted" }, "For scripts that manage this account through /api. Relay tokens (sk-…) do not work there, and access keys do not work on the relay."),
    holder,
    form,
  );
}
