// openai-node against the gateway: runOpenAINode runs one case and returns its result as one JSON-able object.
// runner.mjs calls it per request; run directly, it runs the case the env names and prints one JSON line
// (RELAYGATE_BASE_URL (http://HOST:PORT/v1), RELAYGATE_KEY, MODEL, CASE (chat|stream|tools|responses|responses-stream)).
import { pathToFileURL } from "node:url";
import OpenAI from "openai";

const messages = [{ role: "user", content: "Say hello to the world" }];
const weather = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Weather of a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

async function chat(client, model) {
  const answer = await client.chat.completions.create({ model, messages, max_tokens: 5 });
  return { text: answer.choices[0].message.content, usage: answer.usage, finish: answer.choices[0].finish_reason };
}

async function stream(client, model) {
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

async function tools(client, model) {
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

async function responses(client, model) {
  const answer = await client.responses.create({ model, input: "Say hello to the world", max_output_tokens: 5 });
  return { text: answer.output_text, usage: answer.usage };
}

async function responsesStream(client, model) {
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

export async function runOpenAINode({ baseURL, apiKey, model, case: kase }) {
  try {
    if (!(kase in cases)) throw new Error(`unknown openai-node case ${kase}`);
    const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
    return { ok: true, ...(await cases[kase](client, model)) };
  } catch (error) {
    return { ok: false, status: error.status ?? null, error: String(error.message ?? error) };
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { RELAYGATE_BASE_URL: baseURL, RELAYGATE_KEY: apiKey, MODEL: model, CASE: kase } = process.env;
  console.log(JSON.stringify(await runOpenAINode({ baseURL, apiKey, model, case: kase })));
}
