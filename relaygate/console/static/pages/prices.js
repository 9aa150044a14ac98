// Admin · Prices (USD per 1M tokens or per call) and Groups (price multipliers).

import { t } from "../i18n.js";
import { del, get, patch, post, put } from "../api.js";
import { confirmAction } from "../dialogs.js";
import { field, formError, h, input, onSubmit, table } from "../dom.js";

const PRICE_FIELDS = [
  ["input", "Input"],
  ["cached_input", "Cached input"],
  ["output", "Output"],
  ["per_call", "Per call"],
  ["audio_input", "Audio input"],
  ["audio_output", "Audio output"],
];

const dash = (value) => (value === null || value === undefined ? h("span", { class: "muted" }, "—") : `$${value}`);

export async function pricesPage() {
  const holder = h("div", {});
  const refresh = async () => {
    const listing = await get("/prices");
    const prices = listing.items;
    const rows = prices.map((price) => [
      h("code", {}, price.model),
      ...PRICE_FIELDS.map(([name]) => dash(price[name])),
      h(
        "button",
        {
          type: "button",
          class: "danger small",
          onclick: async () => {
            if (!(await confirmAction(t("Delete the price of {model}?", { model: price.model }), "Requests for an unpriced model are refused."))) return;
            await del(`/prices/${encodeURIComponent(price.model)}`);
            refresh();
          },
        },
        "Delete",
      ),
    ]);
    const unpriced = listing.unpriced_models.length
      ? h("p", { class: "warning", id: "unpriced-models" }, t("Served by a channel but not priced (requests for these are refused): {models}", { models: listing.unpriced_models.join(", ") }))
      : null;
    holder.replaceChildren(unpriced ?? "", table(["Model", ...PRICE_FIELDS.map(([, label]) => label), "Actions"], rows, "No prices yet: set one below."));
  };
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "set-price" },
    h("h2", { id: "set-price" }, "Set a price"),
    h("p", { class: "muted" }, "USD per 1M tokens (per call for images and tasks). Setting an existing model replaces its price."),
    formError(),
    field("Model", "model", input({ required: true })),
    h("div", { class: "row" }, PRICE_FIELDS.map(([name, label]) => field(label, name, input({ type: "number", min: 0, step: "any", inputmode: "decimal" })))),
    h("button", { type: "submit" }, "Save price"),
  );
  onSubmit(form, async (data) => {
    const body = {};
    for (const [name] of PRICE_FIELDS) if (data.get(name)) body[name] = String(data.get(name));
    await put(`/prices/${encodeURIComponent(String(data.get("model")).trim())}`, body);
    form.reset();
    refresh();
  });
  await refresh();
  return h("section", {}, h("h1", {}, "Prices"), holder, form);
}

export async function groupsPage() {
  const holder = h("div", {});
  const refresh = async () => {
    const groups = (await get("/groups")).items;
    const rows = groups.map((group) => {
      const multiplier = input({ type: "number", min: 0, step: "any", value: group.multiplier, "aria-label": t("Multiplier of {name}", { name: group.name }) });
      return [
        h("code", {}, group.name),
        multiplier,
        group.description,
        h(
          "div",
          { class: "row-actions" },
          h(
            "button",
            {
              type: "button",
              class: "secondary small",
              onclick: async () => {
                await patch(`/groups/${encodeURIComponent(group.name)}`, { multiplier: multiplier.value });
                refresh();
              },
            },
            "Save",
          ),
          h(
            "button",
            {
              type: "button",
              class: "danger small",
              onclick: async () => {
                if (!(await confirmAction(t("Delete group {name}?", { name: group.name }), "Only a group nobody uses can be deleted."))) return;
                await del(`/groups/${encodeURIComponent(group.name)}`);
                refresh();
              },
            },
            "Delete",
          ),
        ),
      ];
    });
    holder.replaceChildren(table(["Name", "Multiplier", "Description", "Actions"], rows, "No groups."));
  };
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "new-group" },
    h("h2", { id: "new-group" }, "Create group"),
    formError(),
    h(
      "div",
      { class: "row" },
      field("Name", "name", input({ required: true, maxlength: 64 })),
      field("Multiplier", "multiplier", input({ type: "number", min: 0, step: "any", value: "1" }), "Prices are multiplied by this."),
    ),
    field("Description", "description", input({ maxlength: 255 })),
    h("button", { type: "submit" }, "Create group"),
  );
  onSubmit(form, async (data) => {
    await post("/groups", { name: data.get("name"), multiplier: String(data.get("multiplier") || "1"), description: String(data.get("description") || "") });
    form.reset();
    refresh();
  });
  await refresh();
  return h("section", {}, h("h1", {}, "Groups"), holder, form);
}
