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
  local params = { textDocument = { uri = vim.uri_from_bufnr(bufnr) } }
  local response = client.request_sync('pencil/run', params, 30000, bufnr)
  if not response or response.err or not response.result then
    local why = response and response.err and response.err.message or 'no answer'
    notify('run failed: ' .. why, vim.log.levels.ERROR)
    return nil
  end
  local r = response.result
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
  if config.settings.dataDir then vim.list_extend(cmd, { '--data-dir', config.settings.dataDir }) end
  local output = vim.fn.system(cmd)
  if vim.v.shell_error ~= 0 then
    notify(output, vim.log.levels.ERROR)
    return nil
  end
  notify(output)
  return output
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
  vim.api.nvim_create_user_command('PencilData', function(o) M.data(o.fargs) end,
    { nargs = '+', desc = 'Your data: show | export FILE | delete TITLE | delete --all' })
end

return M
