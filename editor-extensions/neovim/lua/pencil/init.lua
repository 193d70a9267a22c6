-- Pencil Code coach for Neovim (0.7+): starts pencil-lsp for CoffeeScript files,
-- adds :PencilRun (records the program state and checks it, like Pencil Code's Run
-- button) and shows the coach's hints. Diagnostics and quick fixes use Neovim's
-- built-in LSP client (`vim.lsp.buf.code_action()` offers the fixes).
local M = {}

local config = {
  cmd = { 'pencil-lsp' },
  filetypes = { coffee = true },
  patterns = { '*.coffee' },
  settings = {},
}
local client_id = nil

local function notify(msg, level)
  vim.notify('pencil: ' .. msg, level or vim.log.levels.INFO)
end

-- Starts the server once and attaches it to `bufnr`.
function M.attach(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  if not client_id or not vim.lsp.get_client_by_id(client_id) then
    client_id = vim.lsp.start_client({
      name = 'pencil',
      cmd = config.cmd,
      root_dir = vim.fn.getcwd(),
      flags = { debounce_text_changes = 0 },
      init_options = { pencil = config.settings },
      handlers = {
        ['pencil/hint'] = function(_, params)
          if params and params.message then notify(params.message) end
        end,
      },
    })
  end
  if client_id then
    vim.lsp.buf_attach_client(bufnr, client_id)
  end
  return client_id
end

-- The attached client, waiting up to `timeout_ms` for it to finish initializing.
function M.client(timeout_ms)
  if not client_id then return nil end
  local client
  vim.wait(timeout_ms or 10000, function()
    client = vim.lsp.get_client_by_id(client_id)
    return client ~= nil and client.initialized
  end, 20)
  return client
end

-- Runs the current buffer's program: the server records it, checks it, publishes
-- diagnostics and answers the verdict, which this returns (nil on failure).
function M.run(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = M.client()
  if not client then
    notify('the language server is not running', vim.log.levels.ERROR)
    return nil
  end
  local params = { textDocument = { uri = vim.uri_from_bufnr(bufnr) }, drawing = true }
  local response = client.request_sync('pencil/run', params, 30000, bufnr)
  if not response or response.err or not response.result then
    local why = response and response.err and response.err.message or 'no answer'
    notify('run failed: ' .. why, vim.log.levels.ERROR)
    return nil
  end
  local r = response.result
  M.last_drawing = r.drawing
  if r.status == 'ok' then
    notify('the program runs')
  elseif r.status == 'error' then
    local fixes = r.fixes and r.fixes > 0 and (' (' .. r.fixes .. ' quick fix' .. (r.fixes > 1 and 'es' or '') .. ' available)') or ''
    notify('the program stopped with an error' .. fixes, vim.log.levels.WARN)
  elseif r.status == 'timeout' then
    notify('the program did not finish in time', vim.log.levels.WARN)
  else
    notify('the program is waiting for input')
  end
  return r
end

-- The last run's drawing as text (the turtle's lines as `*`, dots `o`, boxes `#`,
-- fills `.`, labels as their text, each turtle as an arrow): a terminal cannot show
-- the picture, but the shape tells whether the square closed or the star has five points.
function M.drawing_lines(drawing, cols, rows)
  cols, rows = cols or 64, rows or 24
  if not drawing or not drawing.ops then return { '(no drawing: the program did not run)' } end
  local xs, ys = {}, {}
  local function see(x, y) xs[#xs + 1] = x; ys[#ys + 1] = y end
  for _, op in ipairs(drawing.ops) do
    if op.points then
      for i = 1, #op.points - 1, 2 do see(op.points[i], op.points[i + 1]) end
    elseif op.x and (op.op == 'label' or op.diameter ~= vim.NIL and op.size ~= vim.NIL) then
      see(op.x, op.y)
    end
  end
  for _, t in ipairs(drawing.turtles or {}) do if t.visible then see(t.x, t.y) end end
  if #xs == 0 then return { '(nothing was drawn)' } end
  local x0, x1, y0, y1 = xs[1], xs[1], ys[1], ys[1]
  for i = 2, #xs do
    x0, x1 = math.min(x0, xs[i]), math.max(x1, xs[i])
    y0, y1 = math.min(y0, ys[i]), math.max(y1, ys[i])
  end
  -- Characters are about twice as tall as wide: one row covers two columns' worth.
  local scale = math.max((x1 - x0) / (cols - 1), (y1 - y0) * 2 / (rows - 1), 1e-9)
  local grid = {}
  for r = 1, rows do grid[r] = {} for c = 1, cols do grid[r][c] = ' ' end end
  local function cell(x, y)
    return math.floor((x - x0) / scale + 0.5) + 1, rows - math.floor((y - y0) * 2 / scale + 0.5)
  end
  local function put(x, y, ch)
    local c, r = cell(x, y)
    if r >= 1 and r <= rows and c >= 1 and c <= cols then grid[r][c] = ch end
  end
  local function line(ax, ay, bx, by, ch)
    local ca, ra = cell(ax, ay)
    local cb, rb = cell(bx, by)
    local n = math.max(math.abs(cb - ca), math.abs(rb - ra), 1)
    for i = 0, n do put(ax + (bx - ax) * i / n, ay + (by - ay) * i / n, ch) end
  end
  for _, op in ipairs(drawing.ops) do
    if op.op == 'line' and op.color ~= 'erase' then
      for i = 1, #op.points - 3, 2 do line(op.points[i], op.points[i + 1], op.points[i + 2], op.points[i + 3], '*') end
    elseif op.op == 'fill' then
      for i = 1, #op.points - 1, 2 do put(op.points[i], op.points[i + 1], '.') end
    elseif op.op == 'dot' and op.diameter ~= vim.NIL then
      put(op.x, op.y, 'o')
    elseif op.op == 'box' and op.size ~= vim.NIL then
      put(op.x, op.y, '#')
    elseif op.op == 'label' then
      local c, r = cell(op.x, op.y)
      for i = 1, #op.text do
        if r >= 1 and r <= rows and c + i - 1 >= 1 and c + i - 1 <= cols then grid[r][c + i - 1] = op.text:sub(i, i) end
      end
    end
  end
  local arrows = { '^', '>', 'v', '<' }
  for _, t in ipairs(drawing.turtles or {}) do
    if t.visible then put(t.x, t.y, arrows[math.floor(((t.heading % 360) + 45) / 90) % 4 + 1]) end
  end
  local out = {}
  for r = 1, rows do out[r] = (table.concat(grid[r])):gsub('%s+$', '') end
  while #out > 0 and out[#out] == '' do table.remove(out) end
  while #out > 0 and out[1] == '' do table.remove(out, 1) end
  if drawing.truncated then out[#out + 1] = '(the drawing was too big: only its beginning is shown)' end
  return out
end

-- Shows the last run's drawing in a scratch window.
function M.show_drawing()
  local lines = M.drawing_lines(M.last_drawing)
  vim.cmd('botright new')
  local buf = vim.api.nvim_get_current_buf()
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].modifiable = false
  return lines
end

-- Runs a `pencil-lsp` tool command against the configured store and shows its output.
local function run_tool(cmd)
  if config.settings.dataDir then vim.list_extend(cmd, { '--data-dir', config.settings.dataDir }) end
  local output = vim.fn.system(cmd)
  if vim.v.shell_error ~= 0 then
    notify(output, vim.log.levels.ERROR)
    return nil
  end
  notify(output)
  return output
end

-- The student's own data through `pencil-lsp data`: `show`, `export FILE`,
-- `delete TITLE` or `delete --all` (asks first). Returns the tool's output.
function M.data(args)
  local cmd = { config.cmd[1], 'data' }
  local action = args[1]
  if action == 'show' then
    table.insert(cmd, 'show')
  elseif action == 'export' and args[2] then
    vim.list_extend(cmd, { 'export', '--out', vim.fn.expand(args[2]) })
  elseif action == 'delete' and args[2] then
    local what = args[2] == '--all' and 'ALL your recorded programs' or ('your recorded programs of "' .. args[2] .. '"')
    if vim.fn.confirm('Delete ' .. what .. ' for good?', '&Yes\n&No', 2) ~= 1 then
      notify('nothing was deleted')
      return nil
    end
    table.insert(cmd, 'delete')
    if args[2] == '--all' then table.insert(cmd, '--all') else vim.list_extend(cmd, { '--title', args[2] }) end
    table.insert(cmd, '--yes')
  else
    notify('usage: :PencilData show | export FILE | delete TITLE | delete --all', vim.log.levels.ERROR)
    return nil
  end
  return run_tool(cmd)
end

-- Classroom mode through `pencil-lsp class`: `join CODE URL NAME...` (the name may
-- have spaces), `show`, `leave`. Returns the tool's output.
function M.class(args)
  local cmd = { config.cmd[1], 'class' }
  local action = args[1]
  if action == 'join' and args[4] then
    vim.list_extend(cmd, { 'join', args[2], '--hub', args[3], '--name', table.concat(args, ' ', 4) })
  elseif action == 'show' or action == 'leave' then
    table.insert(cmd, action)
  else
    notify('usage: :PencilClass join CODE URL NAME | show | leave', vim.log.levels.ERROR)
    return nil
  end
  return run_tool(cmd)
end

-- setup{ cmd = {...}, settings = { dataDir = ..., recordOnSave = true, quickFixes = true } }
function M.setup(opts)
  config = vim.tbl_deep_extend('force', config, opts or {})
  local group = vim.api.nvim_create_augroup('pencil', { clear = true })
  vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile' }, {
    group = group,
    pattern = config.patterns,
    callback = function(args) M.attach(args.buf) end,
  })
  vim.api.nvim_create_user_command('PencilRun', function() M.run() end, { desc = 'Run and check this program' })
  vim.api.nvim_create_user_command('PencilDrawing', function() M.show_drawing() end,
    { desc = "Show the last run's drawing as text" })
  vim.api.nvim_create_user_command('PencilData', function(o) M.data(o.fargs) end,
    { nargs = '+', desc = 'Your data: show | export FILE | delete TITLE | delete --all' })
  vim.api.nvim_create_user_command('PencilClass', function(o) M.class(o.fargs) end,
    { nargs = '+', desc = "Your teacher's class: join CODE URL NAME | show | leave" })
end

return M
