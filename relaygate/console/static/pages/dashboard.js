// Dashboard: balance, spend today and this month (in the browser's time zone), and charts per day and model.

import { get, query } from "../api.js";
import { barChart } from "../charts.js";
import { h, money, usd } from "../dom.js";
import { session } from "../app.js";
import { number, t } from "../i18n.js";

function startOfToday() {
  const now = new Date();
  return new Date(now.getFullYear(), now.getMonth(), now.getDate());
}

function startOfMonth() {
  const now = new Date();
  return new Date(now.getFullYear(), now.getMonth(), 1);
}

const requests = (count) => t(count === 1 ? "{n} request" : "{n} requests", { n: number(count) });

function stat(label, value, detail, name) {
  return h("div", { class: "stat", "data-stat": name }, h("p", { class: "stat-label" }, label), h("p", { class: "stat-value" }, value), detail ? h("p", { class: "muted" }, detail) : null);
}

function charts(title, per, rows) {
  const bars = (pick) => rows.map((row) => ({ label: row.key, value: pick(row) }));
  return h(
    "section",
    { class: "charts", "aria-label": title },
    h("h2", {}, title),
    h(
      "div",
      { class: "chart-grid" },
      barChart(t("Requests per {per}", { per: t(per) }), bars((row) => row.requests), (n) => number(n)),
      barChart(
        t("Tokens per {per}", { per: t(per) }),
        bars((row) => row.prompt_tokens + row.completion_tokens),
        (n) => number(n),
      ),
      barChart(t("Spend per {per}", { per: t(per) }), bars((row) => row.quota), usd),
    ),
  );
}

export async function dashboardPage() {
  const since = new Date(Date.now() - 30 * 86400000).toISOString();
  const me = await session.refresh();
  // The dashboard is the caller's own: an admin's summaries would cover everyone without user_id.
  const [today, month, byDay, byModel] = await Promise.all([
    get("/usage/totals" + query({ from: startOfToday().toISOString() })),
    get("/usage/totals" + query({ from: startOfMonth().toISOString() })),
    get("/usage/summary" + query({ by: "day", from: since, user_id: me.id, tz: Intl.DateTimeFormat().resolvedOptions().timeZone })),
    get("/usage/summary" + query({ by: "model", from: since, user_id: me.id })),
  ]);
  return h(
    "section",
    {},
    h("h1", {}, "Dashboard"),
    h(
      "div",
      { class: "stats" },
      stat("Balance", money(me.balance), t("Group {name}", { name: me.group }), "balance"),
      stat("Spend today", money(today.quota), requests(today.requests), "today"),
      stat("Spend this month", money(month.quota), requests(month.requests), "month"),
      stat("All time", money(me.used_quota), requests(me.request_count), "total"),
    ),
    charts("Per day, last 30 days", "day", byDay.items),
    charts("Per model, last 30 days", "model", byModel.items),
  );
}
