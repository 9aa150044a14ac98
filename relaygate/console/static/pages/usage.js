// Usage: the caller's records with filters (token, model, time) and the CSV download of the same filter.

import { get, query } from "../api.js";
import { field, h, input, localToIso, money, pager, select, table, time } from "../dom.js";

const PER_PAGE = 20;
const view = { token_id: "", model: "", from: "", to: "", page: 1 };

function filterParams() {
  return { token_id: view.token_id, model: view.model, from: localToIso(view.from), to: localToIso(view.to) };
}

async function records(refresh, tokenNames) {
  const page = await get("/usage" + query({ ...filterParams(), page: view.page, per_page: PER_PAGE }));
  const rows = page.items.map((record) => [
    time(record.created_at),
    record.model,
    record.token_id === null ? "" : tokenNames.get(record.token_id) ?? `#${record.token_id}`,
    record.endpoint,
    `${record.prompt_tokens} / ${record.completion_tokens}`,
    money(record.quota),
    `${record.latency_ms} ms`,
    h("span", { class: record.status_code < 400 ? "badge enabled" : "badge disabled" }, record.status_code),
  ]);
  return h(
    "div",
    { id: "usage-records" },
    table(
      ["Time", "Model", "Token", "Endpoint", "Tokens in / out", "Cost", "Latency", "Status"],
      rows,
      "No requests yet. Records appear here within a second of a relayed request.",
    ),
    pager(view.page, PER_PAGE, page.total, (to) => {
      view.page = to;
      refresh();
    }),
  );
}

export async function usagePage() {
  const tokens = await get("/tokens?per_page=100");
  const tokenNames = new Map(tokens.items.map((token) => [token.id, token.name || token.hint]));
  const holder = h("div", {});
  const download = h("a", { class: "button secondary", download: "usage.csv" }, "Download CSV");
  const refresh = async () => {
    download.href = "/api/usage.csv" + query(filterParams());
    holder.replaceChildren(await records(refresh, tokenNames));
  };
  const tokenSelect = select(
    [["", "All tokens"], ...tokens.items.map((token) => [String(token.id), `${token.name || "(no name)"} ${token.hint}`])],
    view.token_id,
  );
  const model = input({ value: view.model, placeholder: "gpt-4o-mini" });
  const from = h("input", { type: "datetime-local", value: view.from });
  const to = h("input", { type: "datetime-local", value: view.to });
  const form = h(
    "form",
    { class: "filters", role: "search" },
    field("Token", "token_id", tokenSelect),
    field("Model", "model", model),
    field("From", "from", from),
    field("To", "to", to),
    h("button", { type: "submit", class: "secondary" }, "Filter"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    Object.assign(view, { token_id: tokenSelect.value, model: model.value.trim(), from: from.value, to: to.value, page: 1 });
    await refresh();
  });
  await refresh();
  return h(
    "section",
    {},
    h("h1", {}, "Usage"),
    h("p", { class: "muted" }, "Times in your time zone. Cost in USD; hover an amount for its quota units."),
    form,
    h("p", {}, download),
    holder,
  );
}
