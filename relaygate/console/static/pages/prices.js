// Admin · Prices (USD per 1M tokens or per call), edited in place; the models channels serve without a price
// flagged at the top, to price where they stand; the default list prices loaded on request. And Groups
// (price multipliers).

import { t } from "../i18n.js";
import { del, get, patch, post, put } from "../api.js";
import { confirmAction } from "../dialogs.js";
import { field, formError, h, inLanguage, input, notice, onSubmit, table } from "../dom.js";

const PRICE_FIELDS = [
  ["input", "Input"],
  ["cached_input", "Cached input"],
  ["output", "Output"],
  ["per_call", "Per call"],
  ["audio_input", "Audio input"],
  ["audio_output", "Audio output"],
];
// Kept as they are when a row is saved: a PUT replaces the whole price.
const KEPT_FIELDS = ["cache_write_5m", "cache_write_1h", "max_output_tokens"];

// One row's inputs and its Save: blank fields are left out of the new price.
function editableRow(price, refresh) {
  const inputs = PRICE_FIELDS.map(([name, label]) =>
    input({
      type: "number",
      min: 0,
      step: "any",
      inputmode: "decimal",
      name,
      value: price?.[name] ?? "",
      "aria-label": t("{field} of {model}", { field: t(label), model: price?.model ?? "" }),
    }),
  );
  const result = h("span", { class: "row-result", role: "status" });
  const save = async () => {
    result.className = "row-result";
    result.textContent = "";
    const body = {};
    for (const name of KEPT_FIELDS) if (price[name] !== null && price[name] !== undefined) body[name] = price[name];
    for (const control of inputs) if (control.value.trim() !== "") body[control.name] = control.value.trim();
    try {
      await put(`/prices/${encodeURIComponent(price.model)}`, body);
    } catch (error) {
      if (error.status === undefined) throw error;
      result.className = "row-result bad";
      result.textContent = inLanguage(error, error.message);
      return;
    }
    refresh(t("Saved the price of {model}.", { model: price.model }));
  };
  return { inputs, actions: [h("button", { type: "button", class: "small", onclick: save }, "Save"), result] };
}

function priceRow(price, refresh) {
  const { inputs, actions } = editableRow(price, refresh);
  const remove = async () => {
    if (!(await confirmAction(t("Delete the price of {model}?", { model: price.model }), "Requests for an unpriced model are refused."))) return;
    await del(`/prices/${encodeURIComponent(price.model)}`);
    refresh();
  };
  return [h("code", {}, price.model), ...inputs, h("div", { class: "row-actions" }, actions, h("button", { type: "button", class: "danger small", onclick: remove }, "Delete"))];
}

function unpricedRow(model, refresh) {
  const { inputs, actions } = editableRow({ model }, refresh);
  return [h("div", {}, h("code", {}, model), " ", h("span", { class: "badge disabled" }, "No price")), ...inputs, h("div", { class: "row-actions" }, actions)];
}

function loadDefaultsButton(refresh) {
  const load = async () => {
    const sure = await confirmAction(
      t("Load the default prices?"),
      "Prices current OpenAI, Anthropic and Gemini models from the list prices shipped with relaygate. Models that already have a price keep it.",
      "Load default prices",
    );
    if (!sure) return;
    const loaded = await post("/prices/load-defaults", {});
    refresh(t("Set {n} prices from the list prices published as of {as_of}; check them before use.", { n: loaded.items.length, as_of: loaded.as_of }));
  };
  return h("button", { type: "button", class: "secondary", id: "load-defaults", onclick: load }, "Load default prices");
}

export async function pricesPage() {
  const holder = h("div", {});
  const said = h("div", { role: "status", id: "prices-result" });
  const refresh = async (message) => {
    const listing = await get("/prices");
    said.replaceChildren(message ? notice(message) : "");
    const rows = [
      ...listing.unpriced_models.map((model) => unpricedRow(model, refresh)),
      ...listing.items.map((price) => priceRow(price, refresh)),
    ];
    const flagged = listing.unpriced_models.length
      ? h("p", { class: "warning", id: "unpriced-models" }, t("Served by a channel but not priced (requests for these are refused): {models}", { models: listing.unpriced_models.join(", ") }))
      : null;
    holder.replaceChildren(flagged ?? "", table(["Model", ...PRICE_FIELDS.map(([, label]) => label), "Actions"], rows, "No prices yet: set one below."));
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
    const model = String(data.get("model")).trim();
    await put(`/prices/${encodeURIComponent(model)}`, body);
    form.reset();
    refresh(t("Saved the price of {model}.", { model }));
  });
  await refresh();
  return h(
    "section",
    {},
    h("h1", {}, "Prices"),
    h("p", { class: "muted" }, "USD per 1M tokens (per call for images and tasks). Edit a row and Save it; a blank field is left out of the price."),
    h("div", { class: "toolbar" }, loadDefaultsButton(refresh)),
    said,
    holder,
    form,
  );
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
