// Pricing: the models the caller can use, at the caller's prices (USD per 1M tokens, or per call), with a search.

import { t } from "../i18n.js";
import { get } from "../api.js";
import { field, h, input, table } from "../dom.js";

const usd = (value) => (value === null ? "—" : `$${value}`);

export async function pricingPage() {
  const pricing = await get("/pricing");
  const holder = h("div", { id: "pricing-table" });
  const draw = (needle) => {
    const shown = pricing.items.filter((item) => item.model.toLowerCase().includes(needle.toLowerCase()));
    const rows = shown.map((item) => [
      h("code", {}, item.model),
      item.group,
      usd(item.input),
      usd(item.cached_input),
      usd(item.output),
      usd(item.per_call),
    ]);
    holder.replaceChildren(
      table(["Model", "Group", "Input / 1M", "Cached input / 1M", "Output / 1M", "Per call"], rows, needle ? "No model matches." : "No model is available to you yet."),
    );
  };
  const search = input({ type: "search", placeholder: "gpt-4o, claude, …" });
  search.addEventListener("input", () => draw(search.value.trim()));
  draw("");
  return h(
    "section",
    {},
    h("h1", {}, "Pricing"),
    h("p", { class: "muted" }, t("Prices for your group ({groups}), multiplier included.", { groups: pricing.groups.join(", ") })),
    field("Search models", "search", search),
    holder,
  );
}
