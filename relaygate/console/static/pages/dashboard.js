// Dashboard: balance, spend today and this month (in the browser's time zone), and charts per day and model.
// An administrator sees the whole site by default (every user's usage, charts per user, channel and model),
// and can switch to their own account.

import { get, query } from "../api.js";
import { usageCharts } from "../charts.js";
import { h, money, usd } from "../dom.js";
import { redraw, session } from "../app.js";
import { siteNames } from "../names.js";
import { number, t } from "../i18n.js";

const view = { site: true };

function startOfToday() {
  const now = new Date();
  return new Date(now.getFullYear(), now.getMonth(), now.getDate());
}

function startOfMonth() {
  const now = new Date();
  return new Date(now.getFullYear(), now.getMonth(), 1);
}

const zone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;
const requests = (count) => t(count === 1 ? "{n} request" : "{n} requests", { n: number(count) });

function stat(label, value, detail, name) {
  return h("div", { class: "stat", "data-stat": name }, h("p", { class: "stat-label" }, label), h("p", { class: "stat-value" }, value), detail ? h("p", { class: "muted" }, detail) : null);
}

function scopeSwitch() {
  const option = (site, label) =>
    h(
      "button",
      {
        type: "button",
        class: "secondary small",
        "aria-pressed": String(view.site === site),
        onclick: () => {
          view.site = site;
          redraw();
        },
      },
      label,
    );
  return h("div", { class: "scope", role: "group", "aria-label": "Show" }, option(true, "Whole site"), option(false, "My account"));
}

async function ownDashboard(me) {
  const since = new Date(Date.now() - 30 * 86400000).toISOString();
  // The caller's own: an admin's summaries would cover everyone without user_id.
  const [today, month, byDay, byModel] = await Promise.all([
    get("/usage/totals" + query({ from: startOfToday().toISOString() })),
    get("/usage/totals" + query({ from: startOfMonth().toISOString() })),
    get("/usage/summary" + query({ by: "day", from: since, user_id: me.id, tz: zone() })),
    get("/usage/summary" + query({ by: "model", from: since, user_id: me.id })),
  ]);
  return [
    h(
      "div",
      { class: "stats" },
      stat("Balance", money(me.balance), t("Group {name}", { name: me.group }), "balance"),
      stat("Spend today", money(today.quota), requests(today.requests), "today"),
      stat("Spend this month", money(month.quota), requests(month.requests), "month"),
      stat("All time", money(me.used_quota), requests(me.request_count), "total"),
    ),
    usageCharts(t("Per day, last 30 days"), "day", byDay.items, usd),
    usageCharts(t("Per model, last 30 days"), "model", byModel.items, usd),
  ];
}

async function siteDashboard() {
  const since = new Date(Date.now() - 30 * 86400000).toISOString();
  const summary = (by) => get("/usage/summary" + query({ by, from: since, tz: by === "day" ? zone() : null }));
  const [names, today, month, byDay, byUser, byChannel, byModel] = await Promise.all([
    siteNames(),
    get("/usage/totals" + query({ from: startOfToday().toISOString(), all_users: true })),
    get("/usage/totals" + query({ from: startOfMonth().toISOString(), all_users: true })),
    summary("day"),
    summary("user"),
    summary("channel"),
    summary("model"),
  ]);
  const working = names.channels.filter((channel) => channel.status === "enabled").length;
  const autoDisabled = names.channels.filter((channel) => channel.status === "auto_disabled").length;
  return [
    h(
      "div",
      { class: "stats" },
      stat("Site spend today", money(today.quota), requests(today.requests), "site-today"),
      stat("Site spend this month", money(month.quota), requests(month.requests), "site-month"),
      stat("Users", number(names.userCount), null, "users"),
      stat(
        "Channels enabled",
        `${number(working)} / ${number(names.channels.length)}`,
        autoDisabled ? t("{n} auto-disabled", { n: number(autoDisabled) }) : null,
        "channels",
      ),
    ),
    usageCharts(t("Per day, last 30 days"), "day", byDay.items, usd),
    usageCharts(t("Per user, last 30 days"), "user", byUser.items, usd, names.user),
    usageCharts(t("Per channel, last 30 days"), "channel", byChannel.items, usd, names.channel),
    usageCharts(t("Per model, last 30 days"), "model", byModel.items, usd),
  ];
}

export async function dashboardPage() {
  const me = await session.refresh();
  const site = session.isAdmin && view.site;
  return h(
    "section",
    {},
    h("h1", {}, "Dashboard"),
    session.isAdmin ? scopeSwitch() : null,
    session.isAdmin ? h("p", { class: "muted" }, site ? "Every user's usage." : "Your own account.") : null,
    site ? await siteDashboard() : await ownDashboard(me),
  );
}
