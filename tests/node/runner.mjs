// One long-lived node for the whole pytest process (clients.py): starting node and importing the SDKs
// costs ~0.5 s of CPU, once instead of once per case.
// Protocol: one JSON request per stdin line, {id, script, baseURL, apiKey, model, case, provider};
// one stdout line per request, PREFIX + {id, reply}, reply being what the script returns ({ok: true, ...} or
// {ok: false, status, error}). The prefix and id let clients.py skip anything else the SDKs print.
// Requests run one at a time; at the end of stdin (pytest gone) the runner exits.
import { createInterface } from "node:readline";
import { runAiSdk } from "./ai_sdk.mjs";
import { runOpenAINode } from "./openai_node.mjs";

const PREFIX = "relaygate-runner-reply ";
const scripts = { "openai_node.mjs": runOpenAINode, "ai_sdk.mjs": runAiSdk };

async function answer(line) {
  let id = null;
  try {
    const { id: requestId, script, ...params } = JSON.parse(line);
    id = requestId;
    if (!(script in scripts)) throw new Error(`unknown script ${script}`);
    return { id, reply: await scripts[script](params) };
  } catch (error) {
    return { id, reply: { ok: false, status: null, error: `runner: ${error.message ?? error}` } };
  }
}

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (line.trim()) process.stdout.write(PREFIX + JSON.stringify(await answer(line)) + "\n");
}
// Pooled keep-alive sockets must not keep the process alive once its caller is gone.
process.exit(0);
