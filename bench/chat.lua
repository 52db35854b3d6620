-- wrk script: POST a small chat completion.  RATE (req/s for the whole run) and CONNS make
-- each connection pause between requests so the total rate is about RATE (wrk's delay()).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local stream = os.getenv("STREAM") == "1"
-- PROMPT_FILE: the user message is that file's text (JSON-escaped by the caller), else one sentence
local prompt = "Give me one short sentence about the sea."
local pf = os.getenv("PROMPT_FILE")
if pf and pf ~= "" then local f = assert(io.open(pf)); prompt = f:read("*a"); f:close() end
wrk.body = '{"model":"' .. (os.getenv("MODEL") or "gpt-4o-mini") .. '","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"' .. prompt .. '"}]' .. (stream and ',"stream":true' or '') .. '}'

local rate = tonumber(os.getenv("RATE") or "0")
local conns = tonumber(os.getenv("CONNS") or "1")
function delay()
  if rate > 0 then return conns * 1000 / rate end
  return 0
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d errors=%d non2xx=%d requests=%d\n",
    summary.requests / secs, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.requests))
end
