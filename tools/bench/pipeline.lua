-- wrk script: HTTP/1.1 pipelining, 16 requests per write.  wrk counts
-- each response, so Requests/sec is responses per second.
local depth = 16
init = function(args)
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format(nil, "/")
  end
  req = table.concat(r)
end
request = function()
  return req
end
