// The Vercel AI SDK against the gateway: one case per run, its result printed as one JSON line.
// Env: RELAYGATE_BASE_URL, RELAYGATE_KEY, MODEL, CASE, and PROVIDER, one of
//   openai-chat (createOpenAI(...).chat(model): /v1/chat/completions), openai-responses
//   (createOpenAI(...)(model): /v1/responses), anthropic (/v1/messages), google (generateContent).
import { createAnthropic } from "@ai-sdk/anthropic";
import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { createOpenAI } from "@ai-sdk/openai";
import { generateObject, generateText, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";

const { RELAYGATE_BASE_URL: baseURL, RELAYGATE_KEY: apiKey, MODEL: modelId, CASE: kase, PROVIDER: provider } =
  process.env;
const providers = {
  "openai-chat": () => createOpenAI({ baseURL, apiKey }).chat(modelId),
  "openai-responses": () => createOpenAI({ baseURL, apiKey })(modelId),
  anthropic: () => createAnthropic({ baseURL, apiKey })(modelId),
  google: () => createGoogleGenerativeAI({ baseURL, apiKey })(modelId),
};
const model = providers[provider]();
const prompt = "Say hello to the world";
const tools = {
  get_weather: tool({
    description: "Weather of a city",
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => ({ city, forecast: "sunny" }),
  }),
};
const usageOf = (usage) => ({ input: usage.inputTokens, output: usage.outputTokens });
// streamText reports a failed request to onError only; keep it, to print its status rather than "No output".
let streamError = null;
const onError = ({ error }) => {
  streamError = error;
};
const rethrow = (error) => {
  throw streamError ?? error;
};

async function text() {
  const answer = await generateText({ model, prompt, maxOutputTokens: 5, maxRetries: 0 });
  return { text: answer.text, finish: answer.finishReason, usage: usageOf(answer.usage) };
}

async function stream() {
  const answer = streamText({ model, prompt, maxRetries: 0, onError });
  let chunks = 0;
  for await (const piece of answer.textStream) chunks += piece ? 1 : 0;
  const text = await answer.text.catch(rethrow);
  return { text, chunks, finish: await answer.finishReason, usage: usageOf(await answer.usage) };
}

async function streamTools() {
  // One step: the model (forced) calls the tool, the SDK runs it; the caller would send the result back.
  const answer = streamText({
    model, prompt, tools, toolChoice: "required", stopWhen: stepCountIs(1), maxRetries: 0, onError,
  });
  let parts = 0;
  for await (const part of answer.fullStream) parts += 1;
  const calls = (await answer.toolCalls.catch(rethrow)).map((call) => ({ name: call.toolName, args: call.input }));
  const results = (await answer.toolResults).map((result) => result.output);
  return { calls, results, parts, finish: await answer.finishReason, usage: usageOf(await answer.usage) };
}

async function object() {
  const answer = await generateObject({
    model,
    prompt: "Describe a city",
    schema: z.object({ name: z.string(), population: z.number(), coastal: z.boolean() }),
    maxRetries: 0,
  });
  return { object: answer.object, finish: answer.finishReason, usage: usageOf(answer.usage) };
}

const cases = { text, stream, "stream-tools": streamTools, object };
try {
  console.log(JSON.stringify({ ok: true, ...(await cases[kase]()) }));
} catch (error) {
  const status = error.statusCode ?? error.lastError?.statusCode ?? null;
  console.log(JSON.stringify({ ok: false, status, error: String(error.message ?? error) }));
}
