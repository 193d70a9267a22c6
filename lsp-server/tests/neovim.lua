-- Driven by neovim.rs: Debian's Neovim 0.7, its built-in LSP client and the project's
-- plugin (editor-extensions/neovim) run the student's loop against pencil-lsp: edit, Run, see the diagnostic, take the quick
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
  -- Record what the student would see, then load the project's own plugin.
  vim.lsp.handlers['window/showMessage'] = function(_, params)
    table.insert(result.messages, params.message)
  end
  local publish = vim.lsp.handlers['textDocument/publishDiagnostics']
  vim.lsp.handlers['textDocument/publishDiagnostics'] = function(e, params, ctx, config)
    table.insert(result.diagnostics, params)
    return publish(e, params, ctx, config)
  end
  result.notes = {}
  vim.notify = function(msg) table.insert(result.notes, msg) end
  vim.opt.runtimepath:append(os.getenv('PENCIL_PLUGIN_DIR'))
  local pencil = require('pencil')
  pencil.setup({ cmd = { bin } })

  vim.cmd('edit ' .. vim.fn.fnameescape(file))
  local bufnr = vim.api.nvim_get_current_buf()
  local client = pencil.client(30000)
  assert(client, 'the plugin did not start and attach the client')

  -- The student mistypes a color on line 2 (a real buffer edit -> didChange).
  vim.api.nvim_buf_set_lines(bufnr, 1, 2, false, { 'pen lightbleu' })
  local run = pencil.run(bufnr)
  assert(run, 'pencil/run failed: ' .. vim.inspect(result.notes))
  result.steps.first_run = run
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

  vim.cmd('PencilRun')
  result.steps.second_run = { status = (result.notes[#result.notes] == 'pencil: the program runs') and 'ok' or result.notes[#result.notes] }
  result.steps.drawing = pencil.drawing_lines(pencil.last_drawing, 20, 10)
  assert(vim.wait(10000, function() return #vim.diagnostic.get(bufnr) == 0 end, 20), 'diagnostics were not cleared')
  result.steps.cleared = true
  client.stop()
end)
if not ok then result.error = tostring(err) end
finish()
