// Playground: pick a key and a model, chat with streaming, and see each answer's tokens and cost.
// The key is read from the field (or one this tab has just seen, see keys.js) and kept in memory only.

import { get } from "../api.js";
import { QUOTA_PER_USD, field, h, input, money, notice, select } from "../dom.js";
import { rememberedKeys } from "../keys.js";
import { errorText, number, t } from "../i18n.js";

// A decimal string ("0.075") as [integer, decimals], for exact arithmetic.
function decimal(text) {
  const [whole, fraction = ""] = String(text).split(".");
  return [BigInt(whole + fraction), fraction.length];
}

// The cost in quota units of one answer's usage at `price` (USD per 1M tokens, or per call), rounded up
// as the gateway charges: exact, in integers.
export function costInQuota(price, usage) {
  if (!price || !usage) return null;
  const perCall = price.per_call !== null && price.per_call !== undefined;
  const cached = BigInt(usage.prompt_tokens_details?.cached_tokens || 0);
  const parts = perCall
    ? [[1n, price.per_call]]
    : [
        [BigInt(usage.prompt_tokens || 0) - cached, price.input],
        [cached, price.cached_input ?? price.input],
        [BigInt(usage.completion_tokens || 0), price.output],
      ];
  const priced = parts.filter(([, value]) => value !== null && value !== undefined).map(([count, value]) => [count, ...decimal(value)]);
  const scale = Math.max(0, ...priced.map(([, , digits]) => digits));
  let numerator = 0n;
  for (const [count, value, digits] of priced) numerator += count * value * 10n ** BigInt(scale - digits);
  numerator *= BigInt(QUOTA_PER_USD);
  const denominator = 10n ** BigInt(scale) * (perCall ? 1n : 1_000_000n);
  return Number((numerator + denominator - 1n) / denominator);
}

// Reads an OpenAI chat stream (SSE) and calls onText for each piece; returns the usage chunk's usage.
async function readStream(response, onText) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let usage = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, end).trim();
      buffer = buffer.slice(end + 1);
      if (!line.startsWith("data:")) continue;
      const data = line.slice(5).trim();
      if (data === "[DONE]") return usage;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message || "The stream ended with an error.");
      if (chunk.usage) usage = chunk.usage;
      for (const choice of chunk.choices || []) {
        if (choice.delta && choice.delta.content) onText(choice.delta.content);
      }
    }
  }
  return usage;
}

async function failure(response) {
  const data = await response.json().catch(() => null);
  const error = (data && data.error) || {};
  return errorText({ code: error.code, message: error.message || t("The gateway answered {status}.", { status: response.status }) });
}

function turn(role, text) {
  return h("li", { class: `turn ${role}` }, h("b", {}, role === "user" ? "You" : "Assistant"), h("div", { class: "text" }, text));
}

export async function playgroundPage() {
  const pricing = await get("/pricing");
  const prices = new Map();
  for (const item of pricing.items) if (!prices.has(item.model)) prices.set(item.model, item);
  const models = [...prices.keys()].sort();

  const seen = rememberedKeys();
  const pasted = input({ type: "password", autocomplete: "off", spellcheck: "false", placeholder: "sk-…" });
  const picked = select(
    [["", seen.length ? "Paste a key below" : "No key seen in this tab yet"], ...seen.map(([key, label]) => [key, `${label} · ${key.slice(0, 6)}…${key.slice(-4)}`])],
    seen.length ? seen[seen.length - 1][0] : "",
  );
  const model = select(models.map((name) => [name, name]), models.includes("gpt-4o-mini") ? "gpt-4o-mini" : models[0]);
  const prompt = h("textarea", { rows: 3, placeholder: "Ask something…", required: true });
  const log = h("ol", { class: "chat", "aria-live": "polite" });
  const status = h("div", { class: "chat-status" });
  const send = h("button", { type: "submit" }, "Send");
  const history = [];

  const form = h(
    "form",
    { class: "playground" },
    h("div", { class: "row" }, field("Key", "key", picked), field("Or paste a key", "pasted", pasted), field("Model", "model", model)),
    log,
    status,
    field("Message", "message", prompt),
    h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: () => {
      history.length = 0;
      log.replaceChildren();
      status.replaceChildren();
    } }, "Clear"), send),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = pasted.value.trim() || picked.value;
    if (!key) {
      status.replaceChildren(notice("Paste a key (sk-…) or create one on the Tokens page.", "bad"));
      return;
    }
    const text = prompt.value.trim();
    if (!text) return;
    history.push({ role: "user", content: text });
    log.append(turn("user", text));
    prompt.value = "";
    const answer = turn("assistant", "");
    const answerText = answer.querySelector(".text");
    log.append(answer);
    status.replaceChildren();
    send.disabled = true;
    const chosen = model.value;
    try {
      const response = await fetch("/v1/chat/completions", {
        method: "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ model: chosen, messages: history, stream: true, stream_options: { include_usage: true } }),
        credentials: "omit",
        cache: "no-store",
      });
      if (!response.ok) throw new Error(await failure(response));
      const usage = await readStream(response, (piece) => (answerText.textContent += piece));
      history.push({ role: "assistant", content: answerText.textContent });
      const cost = costInQuota(prices.get(chosen), usage);
      answer.append(
        h(
          "p",
          { class: "answer-cost muted" },
          usage
            ? t("{prompt} in · {completion} out · {total} tokens · ", {
                prompt: number(usage.prompt_tokens),
                completion: number(usage.completion_tokens),
                total: number(usage.total_tokens),
              })
            : "",
          cost === null ? t("no price for {model}", { model: chosen }) : money(cost),
        ),
      );
    } catch (error) {
      history.pop();
      answer.remove();
      status.replaceChildren(notice(error.message, "bad"));
    } finally {
      send.disabled = false;
    }
  });
  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });

  return h(
    "section",
    {},
    h("h1", {}, "Playground"),
    h("p", { class: "muted" }, "Chat with a model through your own key, streamed as the API does; each answer shows its tokens and cost. The key stays in this tab's memory."),
    models.length ? form : notice("No model is available to you yet.", "bad"),
  );
}
