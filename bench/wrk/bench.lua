-- wrk script for bench/run.sh (issue 7). One script, chosen by arguments after `--`:
--
--   mode=static  path=/healthz [key=sk_...]         the same request every time
--   mode=keys    path=/api/v1/me keys=FILE [limit=N]  a random key of FILE per request
--   mode=seq     path=/api/v1/me keys=FILE done=FILE  each key of FILE once, in order, then stop
--   mode=post    path=/api/v1/leads keys=FILE run=ID  POST a lead with a unique email
--
-- Debian's wrk 4.1 sends no Host header in requests built with wrk.format() from a headers
-- table of our own, so every request here sets Host explicitly. done() prints one line that
-- bench/run.sh parses:  BENCH requests=… duration_us=… rps=… p50_us=… p99_us=… …

local opts = {}
local host = "127.0.0.1"
local keys = {}
local nkeys = 0
local reqs = nil      -- prebuilt requests (small key files)
local counter = 0
local seq_stopped = false

local function parse_args(args)
   for _, a in ipairs(args) do
      local k, v = a:match("^([%w_]+)=(.*)$")
      if k then opts[k] = v end
   end
end

local function read_keys(file, limit)
   local n = 0
   for line in io.lines(file) do
      if line ~= "" then
         n = n + 1
         keys[n] = line
         if limit and n >= limit then break end
      end
   end
   return n
end

local function get_request(key)
   return "GET " .. opts.path .. " HTTP/1.1\r\nHost: " .. host ..
          "\r\nAuthorization: Bearer " .. key .. "\r\n\r\n"
end

-- wrk decides once, when it loads the script, whether requests are dynamic: only a global
-- `request` function defined at load time makes it call request() for every request. So the
-- global is defined here and dispatches to the implementation chosen in init().
local impl = nil
function request()
   return impl()
end

function init(args)
   parse_args(args)
   host = wrk.host .. ":" .. tostring(wrk.port)
   opts.path = opts.path or "/"
   math.randomseed(os.time() + (tonumber(opts.seed or "0") or 0))
   if opts.keys then
      nkeys = read_keys(opts.keys, tonumber(opts.limit or ""))
      if nkeys == 0 then error("no keys in " .. opts.keys) end
   end
   if opts.mode == "static" then
      local h = { Host = host }
      if opts.key then h["Authorization"] = "Bearer " .. opts.key end
      local req = wrk.format("GET", opts.path, h)
      impl = function() return req end
   elseif opts.mode == "keys" then
      if nkeys <= 50000 then
         reqs = {}
         for i = 1, nkeys do reqs[i] = get_request(keys[i]) end
         impl = function() return reqs[math.random(nkeys)] end
      else
         impl = function() return get_request(keys[math.random(nkeys)]) end
      end
   elseif opts.mode == "seq" then
      -- Each key once. Then the thread stops (answers still in flight are dropped from the
      -- statistics, not from the server's work) and touches `done=FILE`: wrk itself sleeps
      -- for the whole -d duration, so run.sh watches for the file and sends SIGINT.
      impl = function()
         counter = counter + 1
         if counter > nkeys then
            if not seq_stopped then
               seq_stopped = true
               if opts.done then
                  local f = io.open(opts.done, "w")
                  if f then f:write(tostring(nkeys), "\n"); f:close() end
               end
               wrk.thread:stop()
            end
            return get_request(keys[nkeys])
         end
         return get_request(keys[counter])
      end
   elseif opts.mode == "post" then
      local run = opts.run or tostring(os.time())
      impl = function()
         counter = counter + 1
         local body = '{"email":"bench-' .. run .. '-' .. counter .. '@example.com"}'
         return wrk.format("POST", opts.path, {
            Host = host,
            Authorization = "Bearer " .. keys[math.random(nkeys)],
            ["Content-Type"] = "application/json",
         }, body)
      end
   else
      error("unknown mode " .. tostring(opts.mode))
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d mean_us=%.1f max_us=%d " ..
      "bytes=%d err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
      summary.requests, summary.duration, summary.requests / secs,
      latency:percentile(50.0), latency:percentile(90.0), latency:percentile(99.0),
      latency.mean, latency.max, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout))
end
