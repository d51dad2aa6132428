-- POST /v1/payouts of 1 minor unit from a random account of $BENCH_ACCOUNTS_FILE to a test-rail
-- momo number, each request with a fresh Idempotency-Key ($BENCH_RUN_TAG keeps keys unique across
-- runs on one database). Each creates the payout and holds its amount; the payout worker of the
-- server sends and settles them meanwhile, as it would in production. Authorization and
-- Monime-Space-Id come from the command line.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")

local ids = {}
for line in io.lines(os.getenv("BENCH_ACCOUNTS_FILE")) do
  if #line > 0 then ids[#ids + 1] = line end
end
local tag = os.getenv("BENCH_RUN_TAG") or tostring(os.time())

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

local counter = 0
function init(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0))
end

function request()
  counter = counter + 1
  local body = '{"amount":{"currency":"SLE","value":1},"source":{"financialAccountId":"' .. ids[math.random(#ids)]
    .. '"},"destination":{"type":"momo","providerId":"m17","phoneNumber":"+23276000001"}}'
  local headers = {}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  headers["Content-Type"] = "application/json"
  headers["Idempotency-Key"] = "bench-payout-" .. tag .. "-" .. (thread_id or 0) .. "-" .. counter
  return wrk.format("POST", "/v1/payouts", headers, body)
end
