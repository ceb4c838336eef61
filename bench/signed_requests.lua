-- wrk script: posts pre-signed webhook requests (bench/webhook.sh writes them). Every request is
-- a signed message not sent before (the server answers one it has seen with the first intake),
-- so each is a new intake, appended durably. requests.tsv: <X-Signature value>\t<body number>;
-- bodies.txt: one JSON body per line. Thread k of 2 sends entries k, k+2, k+4, ...
local threads = {}

function setup(thread)  -- in wrk's main Lua state, once per thread
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

function init(args)  -- in each thread's own Lua state
  bodies = {}
  for line in io.lines(args[2]) do bodies[#bodies + 1] = line end
  signatures, body_of = {}, {}
  for line in io.lines(args[1]) do
    local tab = line:find("\t", 1, true)
    signatures[#signatures + 1] = line:sub(1, tab - 1)
    body_of[#body_of + 1] = tonumber(line:sub(tab + 1))
  end
  index = thread_id
  step = 2  -- wrk -t2 (bench/webhook.sh)
end

function request()
  local i = index
  index = index + step
  if index > #signatures then index = thread_id end  -- ran out: replays from here on
  return wrk.format("POST", wrk.path, { ["Content-Type"] = "application/json", ["X-Signature"] = signatures[i] },
                    bodies[body_of[i]])
end
