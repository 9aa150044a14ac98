// Usage: the caller's records with filters (token, model, status, time) and the CSV download of the same filter.
// An administrator sees the whole site: every user's records, filtered also by user and channel, with
// charts per user, channel and model over the same filter.

import { get, query } from "../api.js";
import { barChart } from "../charts.js";
import { field, h, input, literal, localToIso, money, pager, select, table, time, usd } from "../dom.js";
import { session } from "../app.js";
import { number, t } from "../i18n.js";
import { siteNames } from "../names.js";

const PER_PAGE = 20;
const view = { user_id: "", token_id: "", channel_id: "", model: "", status: "", from: "", to: "", page: 1 };
const STATUSES = [
  ["", "All"],
  ["ok", "Success"],
  ["error", "Error"],
];

function filterParams() {
  const own = { token_id: view.token_id, model: view.model, status: view.status, from: localToIso(view.from), to: localToIso(view.to) };
  if (!session.isAdmin) return own;
  return { ...own, all_users: true, user_id: view.user_id, channel_id: view.channel_id };
}

function statusBadge(code) {
  return h("span", { class: code < 400 ? "badge enabled" : "badge disabled" }, code);
}

async function records(refresh, tokenName, names) {
  const page = await get("/usage" + query({ ...filterParams(), page: view.page, per_page: PER_PAGE }));
  const rows = page.items.map((record) => [
    time(record.created_at),
    ...(names ? [literal(names.user(record.user_id))] : []),
    record.model,
    record.token_id === null ? "" : tokenName(record.token_id),
    ...(names ? [literal(names.channel(record.channel_id))] : []),
    record.endpoint,
    `${record.prompt_tokens} / ${record.completion_tokens}`,
    money(record.quota),
    `${record.latency_ms} ms`,
    statusBadge(record.status_code),
  ]);
  const headers = names
    ? ["Time", "User", "Model", "Token", "Channel", "Endpoint", "Tokens in / out", "Cost", "Latency", "Status"]
    : ["Time", "Model", "Token", "Endpoint", "Tokens in / out", "Cost", "Latency", "Status"];
  return h(
    "div",
    { id: "usage-records" },
    table(headers, rows, "No requests yet. Records appear here within a second of a relayed request."),
    pager(view.page, PER_PAGE, page.total, (to) => {
      view.page = to;
      refresh();
    }),
  );
}

// Admins: requests per user, channel and model over the filter, each bar's title with its spend.
async function siteCharts(names) {
  const params = filterParams();
  const [byUser, byChannel, byModel] = await Promise.all(
    ["user", "channel", "model"].map((by) => get("/usage/summary" + query({ ...params, by }))),
  );
  const chart = (per, rows, name) =>
    barChart(
      t(`Requests per ${per}`),
      rows.map((row) => ({ label: name(row.key), value: row.requests, title: `${number(row.requests)} · ${usd(row.quota)}` })),
      (n) => number(n),
    );
  return h(
    "div",
    { class: "chart-grid", id: "usage-charts" },
    chart("user", byUser.items, names.user),
    chart("channel", byChannel.items, names.channel),
    chart("model", byModel.items, (key) => key),
  );
}

function adminFields(names) {
  const users = select([["", "All users"], ...names.users.map((user) => [String(user.id), literal(user.name)])], view.user_id);
  const channels = select(
    [["", "All channels"], ...names.channels.map((channel) => [String(channel.id), literal(`${channel.name || "#" + channel.id} (#${channel.id})`)])],
    view.channel_id,
  );
  const token = input({ type: "number", min: 1, step: 1, value: view.token_id, inputmode: "numeric" });
  return {
    controls: { user_id: users, channel_id: channels, token_id: token },
    fields: [field("User", "user_id", users), field("Token ID", "token_id", token), field("Channel", "channel_id", channels)],
  };
}

function ownFields(tokens) {
  const token = select(
    [["", "All tokens"], ...tokens.map((item) => [String(item.id), `${item.name || t("(no name)")} ${item.hint}`])],
    view.token_id,
  );
  return { controls: { token_id: token }, fields: [field("Token", "token_id", token)] };
}

export async function usagePage() {
  const admin = session.isAdmin;
  const [tokens, names] = await Promise.all([get("/tokens?per_page=100"), admin ? siteNames() : null]);
  const ownTokens = new Map(tokens.items.map((token) => [token.id, token.name || token.hint]));
  const tokenName = (id) => ownTokens.get(id) ?? `#${id}`;
  const holder = h("div", {});
  const charts = h("div", {});
  const download = h("a", { class: "button secondary", download: "usage.csv" }, "Download CSV");
  const refresh = async () => {
    download.href = "/api/usage.csv" + query(filterParams());
    const [list, drawn] = await Promise.all([records(refresh, tokenName, names), admin ? siteCharts(names) : null]);
    holder.replaceChildren(list);
    if (drawn) charts.replaceChildren(drawn);
  };
  const chosen = admin ? adminFields(names) : ownFields(tokens.items);
  const model = input({ value: view.model, placeholder: "gpt-4o-mini" });
  const status = select(STATUSES, view.status);
  const from = h("input", { type: "datetime-local", value: view.from });
  const to = h("input", { type: "datetime-local", value: view.to });
  const form = h(
    "form",
    { class: "filters", role: "search" },
    chosen.fields,
    field("Model", "model", model),
    field("Status", "status", status),
    field("From", "from", from),
    field("To", "to", to),
    h("button", { type: "submit", class: "secondary" }, "Filter"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const [name, control] of Object.entries(chosen.controls)) view[name] = control.value.trim();
    Object.assign(view, { model: model.value.trim(), status: status.value, from: from.value, to: to.value, page: 1 });
    await refresh();
  });
  await refresh();
  return h(
    "section",
    {},
    h("h1", {}, "Usage"),
    h("p", { class: "muted" }, admin ? "Every user's requests. Times in your time zone. Cost in USD; hover an amount for its quota units." : "Times in your time zone. Cost in USD; hover an amount for its quota units."),
    form,
    admin ? charts : null,
    h("p", {}, download),
    holder,
  );
}
