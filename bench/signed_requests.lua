-- wrk script: posts pre-signed webhook requests (bench/webhook.sh writes them), cycling through
-- the file so that bodies differ. Each line: <X-Signature value>\t<JSON body>.
-- The server answers a signed message it has already taken with the first intake (a replay), so
-- every request carries its own Idempotency-Key: each one is a new intake, appended durably.
local threads = 0

function setup(thread)  -- in wrk's main Lua state, once per thread
  threads = threads + 1
  thread:set("thread_id", threads)
end

local requests = {}
local index = 0
local sent = 0

function init(args)
  local path = args[1]
  for line in io.lines(path) do
    local tab = line:find("\t", 1, true)
    requests[#requests + 1] = { signature = line:sub(1, tab - 1), body = line:sub(tab + 1) }
  end
  index = math.random(#requests)
end

function request()
  index = index % #requests + 1
  sent = sent + 1
  local r = requests[index]
  return wrk.format("POST", wrk.path,
    { ["Content-Type"] = "application/json", ["X-Signature"] = r.signature,
      ["Idempotency-Key"] = "bench-" .. thread_id .. "-" .. sent }, r.body)
end
