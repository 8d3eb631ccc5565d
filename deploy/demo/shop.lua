-- wrk script for `make demo`: a random mix of shop API calls, weighted like a
-- browsing-heavy storefront. Each wrk thread has its own Lua state and seed.

local routes = {
  -- weight, method, path generator, body
  { 30, "GET",  function() return "/api/products/" .. math.random(1, 5000) end },
  { 10, "GET",  function() return "/api/products?page=" .. math.random(1, 40) end },
  {  8, "GET",  function() return "/api/categories" end },
  { 10, "GET",  function()
      local words = { "mug", "tea", "kettle", "spoon", "green+tea", "gift" }
      return "/api/search?q=" .. words[math.random(#words)] end },
  {  8, "GET",  function() return "/api/users/" .. math.random(1000, 99999) end },
  {  8, "GET",  function() return "/api/cart" end },
  {  6, "GET",  function() return "/api/orders" end },
  {  5, "POST", function() return "/api/orders" end,
       '{"items":[{"product":42,"qty":2}],"currency":"EUR"}' },
  {  5, "POST", function() return "/api/payments" end,
       '{"order":1001,"amount":19.00,"card":"tok_visa"}' },
  {  2, "GET",  function() return "/api/inventory/slow" end },
  {  3, "GET",  function() return "/api/v1/products/" .. math.random(1, 5000) end }, -- old API: 404
}

local total = 0
for _, r in ipairs(routes) do total = total + r[1] end

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  math.randomseed(os.time() * 1000 + (id or 0))
end

local json = { ["Content-Type"] = "application/json" }

function request()
  local x = math.random(total)
  for _, r in ipairs(routes) do
    x = x - r[1]
    if x <= 0 then
      if r[4] then
        return wrk.format(r[2], r[3](), json, r[4])
      end
      return wrk.format(r[2], r[3]())
    end
  end
end
