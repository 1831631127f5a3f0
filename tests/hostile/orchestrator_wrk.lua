-- Minimal wrk script for RELIABILITY G4 (tests/hostile/test_orchestrator_stops.py):
-- POST /v1/verify with short answers, every one different (a per-thread counter in the
-- first line), so that each is computed by a worker and none comes from the result cache.
--
-- done() prints one line starting with "G4-WRK " (JSON): wrk's request and socket-error
-- counts, the count of every status code, and for the non-2xx responses the problem code of
-- their body (e.g. 503 "not_ready" or "overloaded"), since wrk itself only counts them.

local PARAGRAPHS = {
  "To create a nested directory, use `os.makedirs(path, exist_ok=True)`.",
  "`json.loads(s)` deserializes a string containing a JSON document to a Python object.",
  "`Counter.most_common(n)` returns the n most common elements with their counts.",
  "Check for a folder with `os.path.isdirectory(path)` before writing to it.",
  "`time.perf_counter()` returns the value of a clock with the highest resolution.",
}

local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
  table.insert(threads, thread)
end

local counter = 0
local headers = {["Content-Type"] = "application/json"}

function init(args)
  statuses = {}  -- status code (as a string) -> count; read by done()
  codes = {}     -- "status code/problem code" -> count, non-2xx only
end

function request()
  counter = counter + 1
  local text = string.format("Answer %d-%d: %s %s", id or 0, counter,
    PARAGRAPHS[counter % #PARAGRAPHS + 1], PARAGRAPHS[(counter + 2) % #PARAGRAPHS + 1])
  local body = '{"text":"' .. text:gsub('"', '\\"') .. '","source":{"site":"wrk"}}'
  return wrk.format("POST", nil, headers, body)
end

function response(status, hdrs, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status >= 300 then
    local code = body and body:match('"code"%s*:%s*"([^"]*)"') or "?"
    local k = key .. "/" .. code
    codes[k] = (codes[k] or 0) + 1
  end
end

local function merge(name)
  local totals = {}
  for _, thread in ipairs(threads) do
    for k, n in pairs(thread:get(name) or {}) do
      totals[k] = (totals[k] or 0) + n
    end
  end
  local parts = {}
  for k, n in pairs(totals) do
    table.insert(parts, string.format('"%s":%d', k, n))
  end
  table.sort(parts)
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'G4-WRK {"requests":%d,"duration_us":%d,"statuses":%s,"non_2xx_codes":%s,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, merge("statuses"), merge("codes"),
    e.connect, e.read, e.write, e.status, e.timeout))
end
