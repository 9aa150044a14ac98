// The console's shell: who is logged in, the navigation, and the router (#/tokens, #/usage, ...).

import { ApiError, get, post, setCsrfToken } from "./api.js";
import { h, select } from "./dom.js";
import { LOCALES, errorText, locale, setLocale, t } from "./i18n.js";
import { loginPage, registerPage } from "./pages/auth.js";
import { dashboardPage } from "./pages/dashboard.js";
import { tokensPage } from "./pages/tokens.js";
import { usagePage } from "./pages/usage.js";
import { pricingPage } from "./pages/pricing.js";
import { topUpPage } from "./pages/topup.js";
import { accessKeysPage } from "./pages/access_keys.js";
import { accountPage } from "./pages/account.js";
import { usersPage } from "./pages/users.js";
import { channelsPage } from "./pages/channels.js";
import { pricesPage, groupsPage } from "./pages/prices.js";
import { codesPage } from "./pages/codes.js";
import { auditPage } from "./pages/audit.js";
import { analyticsPage } from "./pages/analytics.js";
import { playgroundPage } from "./pages/playground.js";
import { forgetKeys } from "./keys.js";

const ADMIN_ROLES = new Set(["admin", "root"]);

const PAGES = [
  { path: "/dashboard", title: "Dashboard", draw: dashboardPage },
  { path: "/tokens", title: "Tokens", draw: tokensPage },
  { path: "/usage", title: "Usage", draw: usagePage },
  { path: "/playground", title: "Playground", draw: playgroundPage },
  { path: "/pricing", title: "Pricing", draw: pricingPage },
  { path: "/topup", title: "Top up", draw: topUpPage },
  { path: "/access-keys", title: "Access keys", draw: accessKeysPage },
  { path: "/account", title: "Account", draw: accountPage },
  { path: "/admin/users", title: "Users", draw: usersPage, admin: true },
  { path: "/admin/channels", title: "Channels", draw: channelsPage, admin: true },
  { path: "/admin/prices", title: "Prices", draw: pricesPage, admin: true },
  { path: "/admin/groups", title: "Groups", draw: groupsPage, admin: true },
  { path: "/admin/codes", title: "Redemption codes", draw: codesPage, admin: true },
  { path: "/admin/analytics", title: "Analytics", draw: analyticsPage, admin: true },
  { path: "/admin/audit", title: "Audit log", draw: auditPage, admin: true },
];

const state = { user: null, registration: "closed" };

export const session = {
  get user() {
    return state.user;
  },
  get isAdmin() {
    return Boolean(state.user && ADMIN_ROLES.has(state.user.role));
  },
  async refresh() {
    const me = await get("/me");
    setCsrfToken(me.csrf_token);
    state.user = me;
    drawAccount();
    return me;
  },
  started(sessionOut) {
    setCsrfToken(sessionOut.csrf_token);
    state.user = sessionOut.user;
    location.hash = "#/dashboard";
    route();
  },
};

const main = () => document.getElementById("main");

function currentPath() {
  return location.hash.replace(/^#/, "") || "/dashboard";
}

function drawNav() {
  const nav = document.getElementById("nav");
  nav.replaceChildren();
  if (!state.user) return;
  const here = currentPath();
  const link = (page) =>
    h("li", {}, h("a", { href: "#" + page.path, "aria-current": here === page.path ? "page" : null }, page.title));
  nav.append(h("ul", {}, PAGES.filter((page) => !page.admin).map(link)));
  if (session.isAdmin) {
    nav.append(h("p", { class: "nav-heading", id: "admin-nav" }, "Admin"));
    nav.append(h("ul", { "aria-labelledby": "admin-nav" }, PAGES.filter((page) => page.admin).map(link)));
  }
}

function drawAccount() {
  const box = document.getElementById("account");
  box.replaceChildren();
  if (!state.user) return;
  box.append(
    h("span", { class: "who" }, `${state.user.name} · ${t(state.user.role)}`),
    h("button", { type: "button", class: "secondary small", onclick: logOut }, "Log out"),
  );
}

async function logOut() {
  try {
    await post("/auth/logout");
  } finally {
    state.user = null;
    setCsrfToken(null);
    forgetKeys();
    location.hash = "#/login";
    route();
  }
}

function notAllowed(title) {
  return h(
    "section",
    { class: "not-allowed" },
    h("h1", {}, "Not allowed"),
    h("p", {}, t("{title} is for administrators. Your account ({role}) cannot open it.", { title: t(title), role: t(state.user.role) })),
    h("p", {}, h("a", { href: "#/dashboard" }, "Back to the dashboard")),
  );
}

function notFound() {
  return h("section", {}, h("h1", {}, "Page not found"), h("p", {}, h("a", { href: "#/dashboard" }, "Dashboard")));
}

async function route() {
  const path = currentPath();
  const view = main();
  document.body.classList.toggle("signed-out", !state.user);
  drawNav();
  drawAccount();
  if (!state.user) {
    const draw = path === "/register" && state.registration !== "closed" ? registerPage : loginPage;
    view.replaceChildren(draw(state.registration));
    document.title = `${t("Log in")} · relaygate`;
    return;
  }
  if (path === "/login" || path === "/register") {
    location.hash = "#/dashboard";
    return;
  }
  const page = PAGES.find((candidate) => candidate.path === path);
  document.title = `${t(page ? page.title : "Not found")} · relaygate`;
  if (!page) {
    view.replaceChildren(notFound());
    return;
  }
  if (page.admin && !session.isAdmin) {
    view.replaceChildren(notAllowed(page.title));
    return;
  }
  view.replaceChildren(h("p", { class: "muted loading" }, "Loading…"));
  try {
    const content = await page.draw();
    if (currentPath() === path) view.replaceChildren(content);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 401) {
      state.user = null;
      route();
    } else if (error.status === 403) {
      view.replaceChildren(notAllowed(page.title));
    } else {
      view.replaceChildren(h("p", { class: "notice bad", role: "alert" }, errorText(error)));
    }
  }
  view.focus({ preventScroll: true });
}

export function redraw() {
  return route();
}

// A failed button action (Disable, Delete, ...) has no form to show its error in: show it at the top.
function showActionErrors() {
  window.addEventListener("unhandledrejection", (event) => {
    if (!(event.reason instanceof ApiError)) return;
    event.preventDefault();
    if (event.reason.status === 401) {
      state.user = null;
      route();
      return;
    }
    const box = document.getElementById("toast");
    box.textContent = errorText(event.reason);
    box.hidden = false;
    setTimeout(() => (box.hidden = true), 6000);
  });
}

// The language switch in the header: the choice is remembered (localStorage) and the page drawn again in it.
function drawShell() {
  document.documentElement.lang = locale;
  document.querySelector(".skip").textContent = t("Skip to content");
  document.getElementById("menu-toggle").textContent = t("Menu");
  document.getElementById("nav").setAttribute("aria-label", t("Console"));
  const languages = select(LOCALES, locale, { id: "language", "aria-label": "Language", class: "language" });
  languages.addEventListener("change", () => {
    setLocale(languages.value);
    location.reload();
  });
  document.querySelector("header.top").append(languages);
}

async function start() {
  drawShell();
  showActionErrors();
  try {
    state.registration = (await get("/auth/registration")).registration;
  } catch {
    state.registration = "closed";
  }
  try {
    await session.refresh();
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
  }
  window.addEventListener("hashchange", route);
  document.getElementById("menu-toggle").addEventListener("click", () => {
    document.body.classList.toggle("menu-open");
  });
  document.getElementById("nav").addEventListener("click", (event) => {
    if (event.target.closest("a")) document.body.classList.remove("menu-open");
  });
  await route();
  document.body.dataset.ready = "true";
}

start();
