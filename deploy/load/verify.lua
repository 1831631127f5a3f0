-- wrk script for RELIABILITY L1: POST /v1/verify with realistic answers of about 2 KB.
--
--   wrk -t4 -c1000 -d60s --latency -s deploy/load/verify.lua http://127.0.0.1:8765/v1/verify
--
-- Every request is a different answer about the Python standard library: paragraphs drawn
-- in a random order from the list below (most of them right, a few with the kind of
-- invented name or parameter the service exists to catch), behind a first line with a
-- per-thread counter and two random words. So the result cache does not answer everything:
-- each request is computed by a worker or refused.
--
-- done() prints what wrk itself does not: the count of every status code, 503s with and
-- without Retry-After apart (a 503 with Retry-After is the service's documented
-- back-pressure, not an error), the mean body size, and one machine-readable line starting
-- with "DOCVOUCH-WRK " (JSON) that bench/overload.py and the tests parse. wrk counts every
-- non-2xx response, 503s included, as "Non-2xx or 3xx responses" and keeps no latency above
-- its --timeout (default 2 s): give a --timeout longer than the service's 10 s deadline to
-- see the whole tail.
--
-- Environment: DOCVOUCH_WRK_BYTES sets the target answer size (default 2048), and
-- DOCVOUCH_API_KEY, when set, is sent as "Authorization: Bearer KEY".

local PARAGRAPHS = {
  "To create a nested directory, use `os.makedirs(path, exist_ok=True)`. It creates all " ..
  "intermediate directories, and with `exist_ok=True` it does not raise an error if the " ..
  "leaf directory already exists.",
  "Before writing, you can check for a folder with `os.path.isdirectory(path)`, which " ..
  "returns True when the path is a directory.",
  "The `pathlib` module offers an object-oriented alternative. `Path.glob()` yields all " ..
  "files matching a pattern, and `Path.read_text()` returns the decoded contents of the " ..
  "file as a string.",
  "- Use `shutil.copytree(src, dst)` to recursively copy an entire directory tree.\n" ..
  "- Use `shutil.rmtree(path)` to delete a directory and everything inside it.\n" ..
  "- The `tempfile.TemporaryDirectory` class creates a temporary directory that is " ..
  "removed when the context manager exits.",
  "For structured data, `json.dumps(obj, indent=2)` serializes an object to a JSON " ..
  "formatted string, and `json.loads(s)` deserializes a string containing a JSON document " ..
  "to a Python object.",
  "```python\nimport json\nfrom pathlib import Path\n\nfor report in " ..
  "Path(\"reports\").glob(\"*.json\"):\n    data = json.loads(report.read_text(" ..
  "encoding=\"utf-8\"))\n    print(report.name, len(data))\n```",
  "The `statistics.fmean` function converts data to floats and computes the arithmetic " ..
  "mean, and it runs faster than the `mean` function.",
  "If you need to measure how long something takes, `time.perf_counter()` returns the " ..
  "value of a performance counter, a clock with the highest available resolution to " ..
  "measure a short duration.",
  "`re.findall()` returns a list of strings when the pattern has no groups; with one " ..
  "capturing group you get that group's text instead of the whole match. Compiling with " ..
  "`re.compile()` is optional, and `re.IGNORECASE` makes the match case-insensitive.",
  "`collections.Counter` is a dict subclass for counting hashable objects, and " ..
  "`Counter.most_common(n)` returns the n most common elements with their counts.",
  "A `collections.deque(maxlen=3)` keeps only the last three items: when it is full, " ..
  "appending on one end discards an item from the other end.",
  "`functools.lru_cache(maxsize=128)` wraps a function with a memoizing callable that " ..
  "saves up to the maxsize most recent calls, and `functools.cache` is the unbounded form.",
  "`subprocess.run(cmd, capture_output=True, text=True)` runs a command and waits for it " ..
  "to complete, returning a `CompletedProcess` instance; pass `check=True` to raise " ..
  "`CalledProcessError` on a non-zero exit code.",
  "To sort file names in reverse order, call `sorted(names, reversed=True)`.",
  "`asyncio.Queue(maxsize=5)` makes `put()` wait while the queue is full, and " ..
  "`queue.join()` blocks until every item has been received and processed.",
  "`itertools.groupby(data, key)` makes an iterator that returns consecutive keys and " ..
  "groups from the iterable, so the data usually needs to be sorted on the same key first.",
  "`datetime.datetime.fromisoformat(s)` returns a datetime corresponding to a date string " ..
  "in any valid ISO 8601 format, and `datetime.timezone.utc` is the UTC timezone singleton.",
  "`logging.basicConfig(level=logging.INFO, filename=\"app.log\")` does basic " ..
  "configuration for the logging system by creating a FileHandler with a default " ..
  "Formatter and adding it to the root logger.",
  "With `csv.DictWriter(f, fieldnames=[\"name\", \"age\"])`, call `writeheader()` once " ..
  "and then `writerow()` for each dictionary; open the file with `newline=\"\"`.",
  "`sqlite3.connect(\"app.db\")` opens a connection to an SQLite database file, and " ..
  "`connection.execute(sql, params)` creates a cursor and runs one statement with " ..
  "placeholders.",
}

local WORDS = {
  "amber", "basalt", "cobalt", "delta", "ember", "fjord", "garnet", "harbor", "iris",
  "jasper", "kestrel", "lagoon", "marble", "nectar", "onyx", "prism", "quartz", "raven",
  "sierra", "tundra", "umber", "violet", "willow", "xenon", "yarrow", "zephyr",
}

local target = tonumber(os.getenv("DOCVOUCH_WRK_BYTES") or "") or 2048
local api_key = os.getenv("DOCVOUCH_API_KEY")
local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
  table.insert(threads, thread)
end

local function json_string(s)
  s = s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    if c == "\n" then return "\\n" end
    if c == "\t" then return "\\t" end
    return string.format("\\u%04x", c:byte())
  end)
  return '"' .. s .. '"'
end

local counter = 0
local headers = {["Content-Type"] = "application/json"}

function init(args)
  math.randomseed((id or 0) * 7919 + os.time())
  if api_key and api_key ~= "" then
    headers["Authorization"] = "Bearer " .. api_key
  end
  statuses = {}        -- status code (as a string) -> count; read by done()
  retry_after_503 = 0  -- 503s that carried Retry-After
  bare_503 = 0         -- 503s without it (an error)
  sent = 0
  body_bytes = 0
end

local function answer()
  counter = counter + 1
  local parts = {string.format("Answer %d-%d (%s %s): here is how to do it with the " ..
    "standard library.", id or 0, counter, WORDS[math.random(#WORDS)],
    WORDS[math.random(#WORDS)])}
  local size = #parts[1]
  local start = math.random(#PARAGRAPHS)
  local step = math.random(#PARAGRAPHS - 1)
  local i = start
  while size < target - 120 do
    local p = PARAGRAPHS[i]
    table.insert(parts, p)
    size = size + #p + 2
    i = (i + step - 1) % #PARAGRAPHS + 1
  end
  return table.concat(parts, "\n\n")
end

function request()
  local body = '{"text":' .. json_string(answer()) .. ',"source":{"site":"wrk"}}'
  sent = sent + 1
  body_bytes = body_bytes + #body
  return wrk.format("POST", nil, headers, body)
end

function response(status, hdrs, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status == 503 then
    if hdrs["Retry-After"] or hdrs["retry-after"] then
      retry_after_503 = retry_after_503 + 1
    else
      bare_503 = bare_503 + 1
    end
  end
end

function done(summary, latency, requests)
  local totals, with_retry, bare, sent_all, bytes_all = {}, 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses") or {}
    for code, n in pairs(counts) do
      totals[code] = (totals[code] or 0) + n
    end
    with_retry = with_retry + (thread:get("retry_after_503") or 0)
    bare = bare + (thread:get("bare_503") or 0)
    sent_all = sent_all + (thread:get("sent") or 0)
    bytes_all = bytes_all + (thread:get("body_bytes") or 0)
  end
  local codes = {}
  for code in pairs(totals) do table.insert(codes, code) end
  table.sort(codes)
  local status_json = {}
  io.write("Status codes:\n")
  for _, code in ipairs(codes) do
    io.write(string.format("  %s: %d\n", code, totals[code]))
    table.insert(status_json, string.format('"%s":%d', code, totals[code]))
  end
  io.write(string.format("503 with Retry-After (back-pressure, not errors): %d\n", with_retry))
  io.write(string.format("503 without Retry-After (errors): %d\n", bare))
  local mean_body = sent_all > 0 and bytes_all / sent_all or 0
  io.write(string.format("Request bodies: %d sent, %.0f bytes on average\n", sent_all,
    mean_body))
  local e = summary.errors
  io.write(string.format(
    'DOCVOUCH-WRK {"requests":%d,"duration_us":%d,"bytes":%d,"statuses":{%s},' ..
    '"retry_after_503":%d,"bare_503":%d,"sent":%d,"mean_body_bytes":%.1f,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"stdev":%.1f,"p50":%d,"p75":%d,' ..
    '"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes, table.concat(status_json, ","),
    with_retry, bare, sent_all, mean_body,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency.stdev, latency:percentile(50),
    latency:percentile(75), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9)))
end
