// openai-node against the gateway: one case per run, its result printed as one JSON line.
// Env: RELAYGATE_BASE_URL (http://HOST:PORT/v1), RELAYGATE_KEY, MODEL, CASE (chat|stream|tools|responses|responses-stream).
import OpenAI from "openai";

const { RELAYGATE_BASE_URL: baseURL, RELAYGATE_KEY: apiKey, MODEL: model, CASE: kase } = process.env;
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
const messages = [{ role: "user", content: "Say hello to the world" }];
const weather = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Weather of a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

async function chat() {
  const answer = await client.chat.completions.create({ model, messages, max_tokens: 5 });
  return { text: answer.choices[0].message.content, usage: answer.usage, finish: answer.choices[0].finish_reason };
}

async function stream() {
  const chunks = await client.chat.completions.create({
    model, messages, stream: true, stream_options: { include_usage: true },
  });
  let text = "";
  let count = 0;
  let usage = null;
  for await (const chunk of chunks) {
    count += 1;
    text += chunk.choices[0]?.delta?.content ?? "";
    usage = chunk.usage ?? usage;
  }
  return { text, chunks: count, usage };
}

async function tools() {
  const answer = await client.chat.completions.create({
    model, messages, tools: [weather], tool_choice: "required",
  });
  const calls = answer.choices[0].message.tool_calls ?? [];
  return {
    calls: calls.map((call) => ({ name: call.function.name, args: JSON.parse(call.function.arguments) })),
    finish: answer.choices[0].finish_reason,
    usage: answer.usage,
  };
}

async function responses() {
  const answer = await client.responses.create({ model, input: "Say hello to the world", max_output_tokens: 5 });
  return { text: answer.output_text, usage: answer.usage };
}

async function responsesStream() {
  const events = await client.responses.create({ model, input: "Say hello to the world", stream: true });
  let text = "";
  const types = [];
  let usage = null;
  for await (const event of events) {
    types.push(event.type);
    if (event.type === "response.output_text.delta") text += event.delta;
    if (event.type === "response.completed") usage = event.response.usage;
  }
  return { text, types, usage };
}

const cases = { chat, stream, tools, responses, "responses-stream": responsesStream };
try {
  console.log(JSON.stringify({ ok: true, ...(await cases[kase]()) }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, status: error.status ?? null, error: String(error.message ?? error) }));
}
