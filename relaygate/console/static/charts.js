// Small SVG bar charts, drawn here so the console loads nothing from elsewhere.

import { number, t } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

// bars: [{label, value, title}]; returns a <figure> with an accessible table-like description.
export function barChart(caption, bars, format = String) {
  const figure = document.createElement("figure");
  figure.className = "chart";
  const heading = document.createElement("figcaption");
  heading.textContent = caption;
  figure.append(heading);
  if (!bars.length) {
    const empty = document.createElement("p");
    empty.className = "muted";
    empty.textContent = t("No requests in this period yet.");
    figure.append(empty);
    return figure;
  }
  const width = 360;
  const height = 200;
  const left = 6;
  const bottom = 30;
  const top = 20;
  const max = Math.max(...bars.map((bar) => bar.value), 0) || 1;
  const slot = (width - left * 2) / bars.length;
  const barWidth = Math.max(4, Math.min(48, slot * 0.6));
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `${caption}: ` + bars.map((bar) => `${bar.label} ${format(bar.value)}`).join(", "),
    preserveAspectRatio: "xMidYMid meet",
  });
  chart.append(svg("line", { x1: left, x2: width - left, y1: height - bottom, y2: height - bottom, class: "axis" }));
  bars.forEach((bar, index) => {
    const barHeight = ((height - bottom - top) * bar.value) / max;
    const x = left + slot * index + (slot - barWidth) / 2;
    const y = height - bottom - barHeight;
    const group = svg("g", { class: "bar", "data-label": bar.label, "data-value": bar.value });
    const rect = svg("rect", { x, y, width: barWidth, height: Math.max(barHeight, 1), rx: 2 });
    rect.append(svg("title", {}, `${bar.label}: ${bar.title || format(bar.value)}`));
    group.append(rect);
    group.append(svg("text", { x: x + barWidth / 2, y: y - 4, class: "value" }, format(bar.value)));
    const room = Math.max(4, Math.floor(slot / 7));
    const label = bar.label.length > room ? bar.label.slice(0, room - 1) + "…" : bar.label;
    group.append(svg("text", { x: x + barWidth / 2, y: height - bottom + 18, class: "label" }, label));
    chart.append(group);
  });
  figure.append(chart);
  return figure;
}

// Requests, tokens and spend per bucket of a usage summary (the rows of /api/usage/summary), under one heading.
// `per` is day, model, user or channel (each caption is a whole string of the dictionary); `name` turns a
// bucket's key (a user's or channel's id) into what a person knows it by.
export function usageCharts(title, per, rows, spend, name = (key) => key) {
  const bars = (pick) => rows.map((row) => ({ label: name(row.key), value: pick(row) }));
  const section = document.createElement("section");
  section.className = "charts";
  section.dataset.per = per;
  section.setAttribute("aria-label", title);
  const heading = document.createElement("h2");
  heading.textContent = title;
  const grid = document.createElement("div");
  grid.className = "chart-grid";
  grid.append(
    barChart(t(`Requests per ${per}`), bars((row) => row.requests), (n) => number(n)),
    barChart(t(`Tokens per ${per}`), bars((row) => row.prompt_tokens + row.completion_tokens), (n) => number(n)),
    barChart(t(`Spend per ${per}`), bars((row) => row.quota), spend),
  );
  section.append(heading, grid);
  return section;
}
