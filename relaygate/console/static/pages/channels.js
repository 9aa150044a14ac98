// Admin · Channels: upstreams with their id, create, edit, Test (status and latency), enable/disable, priority,
// weight, their keys (hint and status), model mapping, health (status, reason, last probe), fetch models, and
// unpriced models.

import { ApiError, del, get, patch, post } from "../api.js";
import { confirmAction, formDialog } from "../dialogs.js";
import { field, formError, h, input, list, onSubmit, select, table } from "../dom.js";
import { dateTime, t } from "../i18n.js";

const TYPES = ["openai", "azure", "anthropic", "gemini", "midjourney", "suno"].map((type) => [type, type]);

function channelFields(channel) {
  return [
    h(
      "div",
      { class: "row" },
      field("Name", "name", input({ maxlength: 128, value: channel?.name ?? "" })),
      field("Type", "type", select(TYPES, channel?.type ?? "openai")),
    ),
    field("Base URL", "base_url", input({ type: "url", required: !channel, value: channel?.base_url ?? "", placeholder: "https://api.openai.com" })),
    field(
      "Keys",
      "keys",
      h("textarea", { rows: 2, autocomplete: "off", spellcheck: "false", required: !channel, class: "secret" }),
      channel
        ? t("Now {keys}; blank keeps them, anything here replaces them all.", { keys: channel.keys.map((key) => key.hint).join(", ") })
        : "One per line. Stored encrypted; only their start and end are shown again.",
    ),
    field("Models", "models", h("textarea", { rows: 2, required: true }, channel ? channel.models.join(", ") : ""), "Comma or space separated."),
    field(
      "Model mapping",
      "model_map",
      h("textarea", { rows: 2, spellcheck: "false", placeholder: "gpt-4o=gpt-4o-2024-08-06" }, channel ? mappingText(channel.model_map) : ""),
      "One per line: the model clients ask for = the name sent upstream. Blank: names go upstream as asked.",
    ),
    field("Groups", "groups", input({ value: channel ? channel.groups.join(", ") : "default" }), "Which user groups may use it."),
    field(
      "Chat Completions only",
      "chat_completions_only",
      input({ type: "checkbox", checked: Boolean(channel?.chat_completions_only) }),
      "OpenAI-compatible upstreams without /v1/responses: Responses requests are converted to Chat Completions.",
    ),
    h(
      "div",
      { class: "row" },
      field("Priority", "priority", input({ type: "number", step: 1, value: channel?.priority ?? 0 }), "Higher tiers are tried first."),
      field("Weight", "weight", input({ type: "number", min: 0, step: 1, value: channel?.weight ?? 1 }), "Share of traffic in a tier."),
    ),
  ];
}

const mappingText = (map) =>
  Object.entries(map || {})
    .map(([from, to]) => `${from}=${to}`)
    .join("\n");

// `from=to` lines to {from: to}; a line that is not one is refused in the field, before anything is sent.
function parseMapping(text) {
  const map = {};
  for (const line of String(text || "").split(/\r?\n/).map((item) => item.trim()).filter(Boolean)) {
    const [from, to, ...rest] = line.split("=").map((part) => part.trim());
    if (!from || !to || rest.length) {
      const message = t("Write each mapping as FROM=TO, one per line: {line}", { line });
      throw new ApiError(422, "invalid_value", message, { model_map: message });
    }
    map[from] = to;
  }
  return map;
}

function channelBody(data, editing) {
  const body = {
    name: String(data.get("name") || ""),
    type: data.get("type"),
    models: list(data.get("models")),
    model_map: parseMapping(data.get("model_map")),
    groups: list(data.get("groups")),
    priority: Number(data.get("priority") || 0),
    weight: Number(data.get("weight") || 0),
    chat_completions_only: data.get("chat_completions_only") === "on",
  };
  const baseUrl = String(data.get("base_url") || "").trim();
  const keys = String(data.get("keys") || "").split(/\r?\n/).map((key) => key.trim()).filter(Boolean);
  if (baseUrl || !editing) body.base_url = baseUrl;
  if (keys.length || !editing) body.keys = keys;
  return body;
}

function testButton(channel) {
  const result = h("span", { class: "test-result", role: "status", "data-channel": channel.id });
  const button = h(
    "button",
    {
      type: "button",
      class: "secondary small",
      onclick: async () => {
        button.disabled = true;
        result.textContent = "Testing…";
        try {
          const test = await post(`/channels/${channel.id}/test`);
          result.className = `test-result ${test.ok ? "ok" : "bad"}`;
          result.textContent = `${t(test.ok ? "OK" : "Failed")} · ${t("status {status}", { status: test.status })} · ${Math.round(test.latency_ms)} ms${test.error ? " · " + test.error : ""}`;
        } catch (error) {
          result.className = "test-result bad";
          result.textContent = error.message;
        } finally {
          button.disabled = false;
        }
      },
    },
    "Test",
  );
  return [button, result];
}

function fetchModelsButton(channel, refresh) {
  const result = h("span", { class: "fetch-result", role: "status" });
  const button = h(
    "button",
    {
      type: "button",
      class: "secondary small",
      onclick: async () => {
        button.disabled = true;
        result.textContent = "Fetching…";
        try {
          const found = await post(`/channels/${channel.id}/fetch-models`);
          result.className = "fetch-result ok";
          result.replaceChildren(t("{listed} listed, {new} new", { listed: found.models.length, new: found.new.length }) + (found.new.length ? ": " + found.new.join(", ") : "") + " ");
          if (found.new.length) {
            const add = async () => {
              await patch(`/channels/${channel.id}`, { models: [...channel.models, ...found.new] });
              refresh();
            };
            result.append(h("button", { type: "button", class: "small", onclick: add }, "Add new models"));
          }
        } catch (error) {
          result.className = "fetch-result bad";
          result.textContent = error.message;
        } finally {
          button.disabled = false;
        }
      },
    },
    "Fetch models",
  );
  return [button, result];
}

function health(channel) {
  const when = (iso) => dateTime(iso);
  return h(
    "div",
    {},
    h("span", { class: `badge ${channel.status}` }, channel.status),
    channel.disabled_reason ? h("div", { class: "muted note" }, `${channel.disabled_reason} · ${when(channel.disabled_at)}`) : null,
    channel.last_probe_at ? h("div", { class: "muted note" }, t("probed {when}", { when: when(channel.last_probe_at) }) + (channel.last_probe_error ? ": " + channel.last_probe_error : "")) : null,
  );
}

function keyList(channel) {
  return h(
    "ul",
    { class: "plain" },
    channel.keys.map((key) =>
      h("li", { title: key.disabled_reason || "" }, h("code", {}, key.hint), " ", h("span", { class: `badge ${key.status}` }, key.status)),
    ),
  );
}

function modelsCell(channel) {
  const unpriced = channel.unpriced_models.length
    ? h("div", { class: "warning note" }, t("No price: {models} (requests for these are refused)", { models: channel.unpriced_models.join(", ") }))
    : null;
  const mapping = Object.entries(channel.model_map || {});
  const mapped = mapping.length
    ? h("ul", { class: "plain mapping", "aria-label": "Model mapping" }, mapping.map(([from, to]) => h("li", {}, h("code", {}, from), " → ", h("code", {}, to))))
    : null;
  return h("div", {}, channel.models.join(", "), mapped, unpriced);
}

function editDialog(channel, refresh) {
  return formDialog(t("Edit {name}", { name: channel.name || t("channel {id}", { id: channel.id }) }), (close) => {
    const form = h(
      "form",
      {},
      formError(),
      channelFields(channel),
      h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: () => close("cancel") }, "Cancel"), h("button", { type: "submit" }, "Save")),
    );
    return onSubmit(form, async (data) => {
      await patch(`/channels/${channel.id}`, channelBody(data, true));
      close("saved");
      refresh();
    });
  });
}

export async function channelsPage() {
  const holder = h("div", {});
  const refresh = async () => {
    const channels = (await get("/channels?per_page=100")).items;
    const rows = channels.map((channel) => [
      h("code", { class: "channel-id" }, `#${channel.id}`),
      h("span", {}, channel.name || h("span", { class: "muted" }, `#${channel.id}`)),
      channel.type,
      h("code", { class: "url", title: channel.base_url }, channel.base_url),
      modelsCell(channel),
      keyList(channel),
      channel.priority,
      channel.weight,
      health(channel),
      h(
        "div",
        { class: "row-actions" },
        testButton(channel),
        fetchModelsButton(channel, refresh),
        h("button", { type: "button", class: "secondary small", onclick: () => editDialog(channel, refresh) }, "Edit"),
        h(
          "button",
          {
            type: "button",
            class: "secondary small",
            onclick: async () => {
              await post(`/channels/${channel.id}/${channel.status === "enabled" ? "disable" : "enable"}`);
              refresh();
            },
          },
          channel.status === "enabled" ? "Disable" : "Enable",
        ),
        h(
          "button",
          {
            type: "button",
            class: "danger small",
            onclick: async () => {
              if (!(await confirmAction(t("Delete {name}?", { name: channel.name || t("channel {id}", { id: channel.id }) }), "Requests stop going to this upstream."))) return;
              await del(`/channels/${channel.id}`);
              refresh();
            },
          },
          "Delete",
        ),
      ),
    ]);
    holder.replaceChildren(table(["ID", "Name", "Type", "Base URL", "Models", "Keys", "Priority", "Weight", "Health", "Actions"], rows, "No channels yet: add one below."));
  };
  const form = h(
    "form",
    { class: "card", id: "new-channel", "aria-labelledby": "new-channel-title" },
    h("h2", { id: "new-channel-title" }, "Add channel"),
    formError(),
    channelFields(null),
    h("button", { type: "submit" }, "Add channel"),
  );
  onSubmit(form, async (data) => {
    await post("/channels", channelBody(data, false));
    form.reset();
    refresh();
  });
  await refresh();
  return h("section", {}, h("h1", {}, "Channels"), holder, form);
}
