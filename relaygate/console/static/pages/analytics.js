// Admin · Analytics: every user's usage per user, token, channel, model, group or day, with errors, mean
// latency, and the upstream cost and margin where channels have cost prices.

import { get, query } from "../api.js";
import { field, h, money, select, table } from "../dom.js";

// Each bucket's label is a console word (a bucket "user" is not the role "user").
const BUCKETS = [
  ["model", "Model"],
  ["channel", "Channel"],
  ["user", "User"],
  ["token", "Token"],
  ["group", "Group"],
  ["day", "Day"],
];

export async function analyticsPage() {
  const holder = h("div", { id: "analytics-table" });
  const by = select(BUCKETS, "model");
  const draw = async () => {
    const summary = await get("/usage/summary" + query({ by: by.value, tz: Intl.DateTimeFormat().resolvedOptions().timeZone }));
    const rows = summary.items.map((row) => [
      h("code", {}, row.key || "—"),
      row.requests,
      row.errors,
      `${row.prompt_tokens} / ${row.completion_tokens}`,
      money(row.quota),
      row.cost === null ? "—" : money(row.cost),
      row.margin === null ? "—" : money(row.margin),
      `${row.mean_latency_ms} ms`,
    ]);
    holder.replaceChildren(
      table([BUCKETS.find(([name]) => name === by.value)[1], "Requests", "Errors", "Tokens in / out", "Charged", "Upstream cost", "Margin", "Mean latency"], rows, "No usage yet."),
    );
  };
  by.addEventListener("change", draw);
  await draw();
  return h(
    "section",
    {},
    h("h1", {}, "Analytics"),
    h("p", { class: "muted" }, "All users. Cost and margin count the requests whose channel has cost prices for the model."),
    field("Totals by", "by", by),
    holder,
  );
}
