-- wrk script: posts pre-signed webhook requests (bench/webhook.sh writes them), cycling through
-- the file so that bodies differ. Each line: <X-Signature value>\t<JSON body>.
local requests = {}
local index = 0

function init(args)
  local path = args[1]
  for line in io.lines(path) do
    local tab = line:find("\t", 1, true)
    requests[#requests + 1] = wrk.format("POST", wrk.path,
      { ["Content-Type"] = "application/json", ["X-Signature"] = line:sub(1, tab - 1) }, line:sub(tab + 1))
  end
  index = math.random(#requests)
end

function request()
  index = index % #requests + 1
  return requests[index]
end
