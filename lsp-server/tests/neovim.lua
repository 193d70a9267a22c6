-- Driven by neovim.rs: Debian's Neovim 0.7 with its built-in LSP client runs the
-- student's loop against pencil-lsp: edit, Run, see the diagnostic, take the quick
-- fix through the real code-action UI, Run again. Results go to $PENCIL_TEST_OUT.
local bin = os.getenv('PENCIL_LSP_BIN')
local file = os.getenv('PENCIL_TEST_FILE')
local out = os.getenv('PENCIL_TEST_OUT')
local result = { messages = {}, diagnostics = {}, steps = {} }

local function finish()
  local f = assert(io.open(out, 'w'))
  f:write(vim.fn.json_encode(result))
  f:close()
  vim.cmd('qa!')
end

local ok, err = pcall(function()
  local client_id = vim.lsp.start_client({
    name = 'pencil',
    cmd = { bin },
    root_dir = vim.fn.fnamemodify(file, ':h'),
    flags = { debounce_text_changes = 0 },
    handlers = {
      ['window/showMessage'] = function(_, params)
        table.insert(result.messages, params.message)
      end,
      ['textDocument/publishDiagnostics'] = function(e, params, ctx, config)
        table.insert(result.diagnostics, params)
        vim.lsp.diagnostic.on_publish_diagnostics(e, params, ctx, config)
      end,
    },
  })
  assert(client_id, 'start_client failed')
  vim.cmd('edit ' .. vim.fn.fnameescape(file))
  local bufnr = vim.api.nvim_get_current_buf()
  vim.lsp.buf_attach_client(bufnr, client_id)
  local client
  assert(vim.wait(30000, function()
    client = vim.lsp.get_client_by_id(client_id)
    return client ~= nil and client.initialized
  end, 20), 'the client did not initialize')

  -- The student mistypes a color on line 2 (a real buffer edit -> didChange).
  vim.api.nvim_buf_set_lines(bufnr, 1, 2, false, { 'pen lightbleu' })
  local uri = vim.uri_from_bufnr(bufnr)
  local run = client.request_sync('pencil/run', { textDocument = { uri = uri } }, 30000, bufnr)
  assert(run and run.result, 'pencil/run failed: ' .. vim.inspect(run))
  result.steps.first_run = run.result
  assert(vim.wait(10000, function() return #vim.diagnostic.get(bufnr) > 0 end, 20), 'no diagnostics shown')
  local d = vim.diagnostic.get(bufnr)[1]
  result.steps.diagnostic = { lnum = d.lnum, col = d.col, end_col = d.end_col, message = d.message, severity = d.severity }

  -- Take the first quick fix through Neovim's own code-action flow.
  vim.ui.select = function(items, _, on_choice) on_choice(items[1], 1) end
  vim.api.nvim_win_set_cursor(0, { 2, 5 })
  vim.lsp.buf.code_action()
  assert(vim.wait(30000, function()
    return vim.api.nvim_buf_get_lines(bufnr, 1, 2, false)[1] ~= 'pen lightbleu'
  end, 20), 'the code action did not change the buffer')
  result.steps.fixed_text = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), '\n')

  local rerun = client.request_sync('pencil/run', { textDocument = { uri = uri } }, 30000, bufnr)
  assert(rerun and rerun.result, 'second pencil/run failed: ' .. vim.inspect(rerun))
  result.steps.second_run = rerun.result
  assert(vim.wait(10000, function() return #vim.diagnostic.get(bufnr) == 0 end, 20), 'diagnostics were not cleared')
  result.steps.cleared = true
  client.stop()
end)
if not ok then result.error = tostring(err) end
finish()
