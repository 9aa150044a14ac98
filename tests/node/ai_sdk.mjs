// The Vercel AI SDK against the gateway: runAiSdk runs one case and returns its result as one JSON-able object.
// runner.mjs calls it per request; run directly, it runs the case the env names and prints one JSON line
// (RELAYGATE_BASE_URL, RELAYGATE_KEY, MODEL, CASE, PROVIDER). The provider is one of
//   openai-chat (createOpenAI(...).chat(model): /v1/chat/completions), openai-responses
//   (createOpenAI(...)(model): /v1/responses), anthropic (/v1/messages), google (generateContent).
import { pathToFileURL } from "node:url";
import { createAnthropic } from "@ai-sdk/anthropic";
import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { createOpenAI } from "@ai-sdk/openai";
import { generateObject, generateText, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";

const providers = {
  "openai-chat": ({ baseURL, apiKey, model }) => createOpenAI({ baseURL, apiKey }).chat(model),
  "openai-responses": ({ baseURL, apiKey, model }) => createOpenAI({ baseURL, apiKey })(model),
  anthropic: ({ baseURL, apiKey, model }) => createAnthropic({ baseURL, apiKey })(model),
  google: ({ baseURL, apiKey, model }) => createGoogleGenerativeAI({ baseURL, apiKey })(model),
};
const prompt = "Say hello to the world";
const tools = {
  get_weather: tool({
    description: "Weather of a city",
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => ({ city, forecast: "sunny" }),
  }),
};
const usageOf = (usage) => ({ input: usage.inputTokens, output: usage.outputTokens });

// streamText reports a failed request to onError only; keep it per call, to return its status rather than "No output".
function streamErrors() {
  let streamError = null;
  return {
    onError: ({ error }) => {
      streamError = error;
    },
    rethrow: (error) => {
      throw streamError ?? error;
    },
  };
}

async function text(model) {
  const answer = await generateText({ model, prompt, maxOutputTokens: 5, maxRetries: 0 });
  return { text: answer.text, finish: answer.finishReason, usage: usageOf(answer.usage) };
}

async function stream(model) {
  const { onError, rethrow } = streamErrors();
  const answer = streamText({ model, prompt, maxRetries: 0, onError });
  let chunks = 0;
  for await (const piece of answer.textStream) chunks += piece ? 1 : 0;
  const text = await answer.text.catch(rethrow);
  return { text, chunks, finish: await answer.finishReason, usage: usageOf(await answer.usage) };
}

async function streamTools(model) {
  // One step: the model (forced) calls the tool, the SDK runs it; the caller would send the result back.
  const { onError, rethrow } = streamErrors();
  const answer = streamText({
    model, prompt, tools, toolChoice: "required", stopWhen: stepCountIs(1), maxRetries: 0, onError,
  });
  let parts = 0;
  for await (const part of answer.fullStream) parts += 1;
  const calls = (await answer.toolCalls.catch(rethrow)).map((call) => ({ name: call.toolName, args: call.input }));
  const results = (await answer.toolResults).map((result) => result.output);
  return { calls, results, parts, finish: await answer.finishReason, usage: usageOf(await answer.usage) };
}

async function object(model) {
  const answer = await generateObject({
    model,
    prompt: "Describe a city",
    schema: z.object({ name: z.string(), population: z.number(), coastal: z.boolean() }),
    maxRetries: 0,
  });
  return { object: answer.object, finish: answer.finishReason, usage: usageOf(answer.usage) };
}

const cases = { text, stream, "stream-tools": streamTools, object };

export async function runAiSdk({ baseURL, apiKey, model, case: kase, provider }) {
  try {
    if (!(provider in providers)) throw new Error(`unknown AI SDK provider ${provider}`);
    if (!(kase in cases)) throw new Error(`unknown AI SDK case ${kase}`);
    return { ok: true, ...(await cases[kase](providers[provider]({ baseURL, apiKey, model }))) };
  } catch (error) {
    const status = error.statusCode ?? error.lastError?.statusCode ?? null;
    return { ok: false, status, error: String(error.message ?? error) };
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { RELAYGATE_BASE_URL: baseURL, RELAYGATE_KEY: apiKey, MODEL: model, CASE: kase, PROVIDER: provider } =
    process.env;
  console.log(JSON.stringify(await runAiSdk({ baseURL, apiKey, model, case: kase, provider })));
}
