-- The chat completion of chat.lua, each request with the next key of BENCH_KEYS_FILE (one key a line):
-- thread i of BENCH_THREADS sends keys i, i + BENCH_THREADS, ... in turn, so that N requests use N keys.
-- With BENCH_KEYS_USED_FILE set, done() writes there how many keys from the first on were all used.
wrk.method = "POST"
wrk.body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello to the benchmark."}],"max_tokens":16}'
wrk.headers["Content-Type"] = "application/json"

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

local headers, stride = {}, 1

function init(args)
  for line in io.lines(os.getenv("BENCH_KEYS_FILE")) do
    if line ~= "" then
      headers[#headers + 1] = "Bearer " .. line
    end
  end
  stride = tonumber(os.getenv("BENCH_THREADS") or "1")
  position = thread_index  -- a global, so that done() can read it with thread:get
end

function request()
  wrk.headers["Authorization"] = headers[position % #headers + 1]
  position = position + stride
  return wrk.format()
end

function done(summary, latency, requests)
  local path = os.getenv("BENCH_KEYS_USED_FILE")
  if not path then
    return
  end
  -- Thread t sent keys t, t + stride, ... below its position: all keys below stride x its fewest sends.
  local fewest = math.huge
  for _, thread in ipairs(threads) do
    fewest = math.min(fewest, (thread:get("position") - thread:get("thread_index")) / #threads)
  end
  local file = io.open(path, "w")
  file:write(string.format("%d\n", #threads * fewest))
  file:close()
end
