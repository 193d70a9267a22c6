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
  -- research.namesDir: the published name lists research uploads are scrubbed with
  -- (default: $PENCIL_NAMES_DIR, else .deps/names above the current directory).
  research = {},
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

-- Runs one of the server's commands on the current buffer's document; returns the
-- answer's message, or nil (and says why).
local function server_command(command, arguments)
  local client = M.client()
  if not client then
    notify('the language server is not running', vim.log.levels.ERROR)
    return nil
  end
  local response = client.request_sync('workspace/executeCommand', { command = command, arguments = arguments }, 15000)
  if not response or response.err then
    notify((response and response.err and response.err.message) or 'no answer', vim.log.levels.ERROR)
    return nil
  end
  local message = response.result and response.result.message or 'done'
  notify(message)
  return message
end

-- "Ask my teacher" about the current buffer: its program as it is now, the
-- message, and (only if the student says yes) this title's earlier versions.
function M.ask_teacher(message)
  local share = M.ui.confirm('Also send the earlier versions of this program (your trace)?', '&Yes\n&No', 2) == 1
  local arg = { uri = vim.uri_from_bufnr(0), shareTrace = share }
  if message and vim.trim(message) ~= '' then arg.message = message end
  return server_command('pencil.askTeacher', { arg })
end

-- The reflect-first code action: ask what the student thinks is wrong, send it,
-- then offer the fixes.
vim.lsp.commands['pencil.reflect'] = function(command)
  local uri = command.arguments and command.arguments[1]
  local text = M.ui.input('Your teacher asks: what do you think is wrong? (stays on your computer) ')
  if not uri or not text or vim.trim(text) == '' then return end
  if server_command('pencil.reflect', { uri, text }) then vim.lsp.buf.code_action() end
end

-- Classroom mode through `pencil-lsp class`: `join CODE URL NAME...` (the name may
-- have spaces), `show`, `hands` (with the teacher's replies), `leave`; and `ask
-- [MESSAGE...]` through the server. Returns the tool's output (ask: the answer).
function M.class(args)
  local cmd = { config.cmd[1], 'class' }
  local action = args[1]
  if action == 'join' and args[4] then
    vim.list_extend(cmd, { 'join', args[2], '--hub', args[3], '--name', table.concat(args, ' ', 4) })
  elseif action == 'show' or action == 'leave' or action == 'hands' then
    table.insert(cmd, action)
  elseif action == 'ask' then
    return M.ask_teacher(table.concat(args, ' ', 2))
  else
    notify('usage: :PencilClass join CODE URL NAME | show | hands | ask [MESSAGE] | leave', vim.log.levels.ERROR)
    return nil
  end
  return run_tool(cmd)
end

-- Research studies through `pencil-lsp research` (consent happens here, on the
-- student's machine; preview shows byte for byte what a study would receive).

-- Questions asked of the student; a test may answer them instead.
M.ui = {
  confirm = function(msg, choices, default) return vim.fn.confirm(msg, choices, default) end,
  input = function(prompt) return vim.fn.input(prompt) end,
}

local function study_id_ok(id)
  return type(id) == 'string' and id:match('^[a-z0-9][a-z0-9-]*$') ~= nil and #id <= 64
end

-- The argument list (after the binary) of one research call, or nil and why.
-- `what`: list | show ID-or-absolute-FILE | consent ID BY [AGE] | preview ID |
-- upload ID SHA256 | receipts | revoke ID. list, show and receipts answer JSON.
-- Preview and upload get the same `--names` (setup's research.namesDir) so they
-- scrub alike.
function M.research_args(what, a, b, c)
  local s = config.settings
  local store = s.dataDir and { '--data-dir', s.dataDir } or {}
  local names = config.research.namesDir and { '--names', config.research.namesDir } or {}
  local cmd
  if what == 'list' then
    cmd = { 'research', 'study', 'list', '--json' }
  elseif what == 'show' then
    local absolute = type(a) == 'string' and (a:sub(1, 1) == '/' or a:match('^%a:[\\/]') ~= nil)
    if not absolute and not study_id_ok(a) then return nil, 'not a study id or a study file: ' .. tostring(a) end
    cmd = { 'research', 'study', 'show', a, '--json' }
  elseif what == 'receipts' then
    cmd = { 'research', 'receipts', '--json' }
  elseif not study_id_ok(a) then
    return nil, 'not a study id (a-z, 0-9 and -): ' .. tostring(a)
  elseif what == 'consent' then
    if b ~= 'student' and b ~= 'parent' and b ~= 'school' then return nil, 'consent is given by student, parent or school' end
    cmd = { 'research', 'consent', '--study', a, '--by', b }
    if c then vim.list_extend(cmd, { '--age', tostring(c) }) end
    table.insert(cmd, '--yes')
  elseif what == 'preview' then
    cmd = vim.list_extend({ 'research', 'preview', '--study', a }, names)
  elseif what == 'upload' then
    if type(b) ~= 'string' or not b:match('^' .. string.rep('[0-9a-f]', 64) .. '$') then return nil, 'no valid SHA-256 to send' end
    cmd = vim.list_extend({ 'research', 'upload', '--study', a, '--expect-sha256', b }, names)
  elseif what == 'revoke' then
    cmd = { 'research', 'revoke', '--study', a }
  else
    return nil, 'unknown research call ' .. tostring(what)
  end
  return vim.list_extend(cmd, store)
end

-- pencil-lsp's error without "Error: " and without a backtrace or its causes.
function M.tool_error(stderr)
  local cut = (stderr or ''):gsub('\n%s*\nCaused by:.*$', ''):gsub('\n%s*\nStack backtrace:.*$', '')
  local msg = cut:match('Error: (.*)$') or cut
  msg = vim.trim(msg)
  return msg ~= '' and msg or 'pencil-lsp failed'
end

-- Runs pencil-lsp with `args`; returns stdout and stderr (exact text) or nil and the error.
local function research_tool(args)
  if vim.fn.executable(config.cmd[1]) ~= 1 then return nil, 'pencil-lsp was not found (' .. config.cmd[1] .. ')' end
  local out, err = {}, {}
  local job = vim.fn.jobstart(vim.list_extend({ config.cmd[1] }, args), {
    stdout_buffered = true,
    stderr_buffered = true,
    env = { RUST_BACKTRACE = '0', RUST_LIB_BACKTRACE = '0' },
    on_stdout = function(_, data) out = data end,
    on_stderr = function(_, data) err = data end,
  })
  if job <= 0 then return nil, 'pencil-lsp could not be started (' .. config.cmd[1] .. ')' end
  local code = vim.fn.jobwait({ job }, 120000)[1]
  local stdout, stderr = table.concat(out, '\n'), table.concat(err, '\n')
  if code ~= 0 then return nil, code == -1 and 'pencil-lsp did not answer in time' or M.tool_error(stderr) end
  return stdout, stderr
end

-- JSON null (vim.NIL) as nil.
local function val(v)
  if v == vim.NIL then return nil end
  return v
end

local function decode(text, what)
  local ok, v = pcall(vim.json.decode, text or '')
  if not ok or type(v) ~= 'table' then return nil, 'pencil-lsp answered something other than ' .. what .. ' (is it older than this plugin?)' end
  return v
end

-- What a study collects (its `collects`: programs, timestamps, hints) in words;
-- nil for a value this plugin does not know.
function M.collects_words(c)
  if type(c) ~= 'table' then return nil end
  local programs = ({ final = 'the final version of each program', full = 'every version of each program you run' })[c.programs]
  local times = ({ exact = 'exact times', minute = 'times rounded to the minute', hour = 'times rounded to the hour', day = 'dates only' })[c.timestamps]
  if not programs or not times or type(c.hints) ~= 'boolean' then return nil end
  return programs .. ', ' .. times .. ', ' .. (c.hints and 'which hints you were shown and whether you took them' or 'no hints')
end

-- Reads `research study show --json`: the study document, why it is trusted and
-- the consent in force. Returns { id, title, institution, ethics_approval,
-- contact, collects, retention_days, consent_version, consent_text,
-- guardian_below_age (0: anyone may consent for themselves), source ('class' or
-- 'file'), fingerprint, pinned_now, consent (the receipt in force, or nil) }, or
-- nil and why.
function M.parse_study(text)
  local v, why = decode(text, 'a study')
  if not v then return nil, why end
  local s = type(v.study) == 'table' and v.study or {}
  local c = type(s.consent) == 'table' and s.consent or {}
  local study = {
    id = s.id, title = s.title, institution = s.institution, ethics_approval = s.ethics_approval, contact = s.contact,
    collects = s.collects, retention_days = s.retention_days,
    consent_version = c.version, consent_text = c.text, guardian_below_age = c.guardian_below_age,
    source = v.source, fingerprint = v.researcher_key_fingerprint, pinned_now = v.pinned_now,
    consent = type(val(v.consent)) == 'table' and v.consent or nil,
  }
  for _, k in ipairs({ 'id', 'title', 'institution', 'ethics_approval', 'contact', 'consent_version', 'consent_text', 'source', 'fingerprint' }) do
    if type(study[k]) ~= 'string' then return nil, 'pencil-lsp described the study without its ' .. k .. ' (update both)' end
  end
  if type(study.guardian_below_age) ~= 'number' or type(study.retention_days) ~= 'number' or type(study.collects) ~= 'table' then
    return nil, 'pencil-lsp described the study without its age rule or scope (update both)'
  end
  return study
end

local WHO = { student = 'you', parent = 'your parent', school = 'your school' }

-- The study in words, as the student reads it before consenting.
function M.study_lines(s)
  local trust = s.source == 'class' and "offered by your class: your teacher's key vouches for the researchers' key"
    or "read from a file: the researchers' key was kept the first time this study was seen, so a changed study must come from the same researchers"
  local age = s.guardian_below_age > 0 and ("students under %d need a parent's or the school's consent"):format(s.guardian_below_age)
    or 'anyone may consent for themselves'
  local lines = { ('Study "%s": %s'):format(s.id, s.title) }
  if s.pinned_now == true then table.insert(lines, "(Its signature checks out, and the researchers' key is now kept on this machine.)") end
  vim.list_extend(lines, {
    '',
    'Run by: ' .. s.institution,
    'Ethics approval: ' .. s.ethics_approval,
    'Contact: ' .. s.contact,
    'Collects: ' .. (M.collects_words(s.collects) or vim.json.encode(s.collects)) .. '; names, e-mail addresses, phone numbers and addresses are removed first',
    'Collection starts when you consent; nothing recorded before leaves this machine.',
    ('The researchers keep it for: %d days'):format(s.retention_days),
    "Researchers' key fingerprint: " .. s.fingerprint .. " (it should match the one on the study's consent form)",
    'Trusted because: ' .. trust,
    '',
    ('Consent text, version %s (%s):'):format(s.consent_version, age),
  })
  for _, l in ipairs(vim.split(s.consent_text, '\n', { plain = true })) do table.insert(lines, '  ' .. l) end
  table.insert(lines, '')
  if s.consent then
    table.insert(lines, ('Your consent: given by %s on %s UTC (consent text version %s).')
      :format(WHO[s.consent.consented_by] or tostring(s.consent.consented_by), tostring(s.consent.consented_at), tostring(s.consent.consent_version)))
  else
    table.insert(lines, 'Your consent: not given.')
  end
  return lines
end

-- Reads `research study list --json`: the class's offers (in a class) and the
-- studies kept on this machine, each { id, status = offered|kept|refused, title,
-- institution, collects, refused (why), consent_given }. Returns the list, or nil and why.
function M.parse_list(text)
  local v, why = decode(text, 'a list of studies')
  if not v then return nil, why end
  if not vim.tbl_islist(v) then return nil, 'pencil-lsp answered something other than a list of studies' end
  local list = {}
  for _, l in ipairs(v) do
    if type(l) ~= 'table' or type(l.id) ~= 'string' or not ({ offered = true, kept = true, refused = true })[l.status] then
      return nil, 'a study listed by pencil-lsp is missing a field'
    end
    table.insert(list, {
      id = l.id, status = l.status, title = val(l.title), institution = val(l.institution),
      collects = val(l.collects), refused = val(l.refused), consent_given = l.consent_given == true,
    })
  end
  return list
end

-- The study list as lines to read.
function M.list_lines(list)
  local lines = {}
  for _, l in ipairs(list) do
    if l.status == 'refused' then
      table.insert(lines, ('%s: not shown, because %s'):format(l.id, l.refused or 'its signature does not verify'))
    else
      local notes = { l.status == 'offered' and 'offered by your class' or 'kept on this machine' }
      if l.consent_given then table.insert(notes, 'you consented') end
      table.insert(lines, ('%s: %s (%s) [%s]'):format(l.id, l.title or l.id, l.institution or '?', table.concat(notes, ', ')))
      if l.collects then table.insert(lines, '  Collects ' .. l.collects) end
    end
  end
  if #lines == 0 then
    lines = { 'No studies yet: none is offered by a class you are in, and none was read from a file.' }
  end
  return lines
end

-- The preview's details: the SHA-256 computed here from the exact bytes, checked
-- against the one pencil-lsp names on stderr. Returns nil and why on a mismatch.
function M.parse_preview(stdout, stderr)
  if stdout == '' then
    return { nothing = stderr:match("(Nothing to send[^\n]*)") or 'Nothing to send.' }
  end
  local sha = vim.fn.sha256(stdout)
  local bytes, said = stderr:match("That is upload %S+ of study '[^']*': (%d+) bytes, sha256 (%x+)")
  if said and (said ~= sha or tonumber(bytes) ~= #stdout) then
    return nil, 'the preview bytes do not match the SHA-256 pencil-lsp named; nothing was sent'
  end
  return { text = stdout, bytes = #stdout, sha256 = sha }
end

-- Receipts (`research receipts --json`) as lines to read.
function M.receipt_lines(receipts)
  if #receipts == 0 then return { 'You have not consented to any research study.' } end
  local lines = { 'Your consent receipts', '' }
  for _, r in ipairs(receipts) do
    vim.list_extend(lines, {
      ('Study "%s": consent text version %s, given by %s on %s UTC'):format(r.study_id, r.consent_version, WHO[r.consented_by] or r.consented_by, r.consented_at),
      r.revoked_at ~= vim.NIL and r.revoked_at and ('  Withdrawn on ' .. r.revoked_at .. ' UTC: nothing more is collected.')
        or '  In force: your programs from that moment on can be sent to this study.',
      '  What it collects: ' .. (M.collects_words(select(2, pcall(vim.json.decode, r.scope_json))) or r.scope_json),
      '  Uploads so far: ' .. tostring(r.uploads),
      '  Your pseudonym in the study: ' .. ((r.subject_id ~= vim.NIL and r.subject_id) or '(not given yet: the class hub answers it at the first upload)'),
      ('  Receipt %s; study document SHA-256 %s'):format(r.id, r.study_digest),
      '',
    })
  end
  return lines
end

-- A read-only scratch buffer holding `text` exactly (lines split at "\n"), named
-- pencil://NAME, in the window of the previous one if it is open (one research
-- window, not a new split each time).
local function show_text(name, text, filetype)
  local win
  for _, w in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(w)):match('^pencil://') then
      win = w
      break
    end
  end
  if win then
    vim.api.nvim_set_current_win(win)
    vim.cmd('enew!') -- the previous one is wiped (bufhidden=wipe)
  else
    vim.cmd('botright new')
  end
  local buf = vim.api.nvim_get_current_buf()
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, vim.split(text, '\n', { plain = true }))
  vim.bo[buf].modified = false
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].swapfile = false
  if filetype then vim.bo[buf].filetype = filetype end
  vim.bo[buf].modifiable = false
  pcall(vim.api.nvim_buf_set_name, buf, 'pencil://' .. name)
  return buf
end

local function call(what, a, b, c)
  local args, why = M.research_args(what, a, b, c)
  if not args then return nil, why end
  return research_tool(args)
end

local function receipts()
  local out, err = call('receipts')
  if not out then return nil, err end
  local ok, list = pcall(vim.json.decode, out)
  if not ok or type(list) ~= 'table' then return nil, 'pencil-lsp answered something other than a list of receipts' end
  return list
end

-- Shows a study (an id, or a study file, whose signature pencil-lsp checks) in
-- words in a scratch buffer; returns what parse_study reads.
local function show_study(target)
  if target and not study_id_ok(target) then target = vim.fn.fnamemodify(vim.fn.expand(target), ':p') end
  local out, err = call('show', target)
  if not out then return nil, err end
  local study, why = M.parse_study(out)
  if not study then return nil, why end
  show_text('study/' .. study.id, table.concat(M.study_lines(study), '\n'))
  return study
end

-- The preview in a scratch buffer: exactly the bytes, nothing added.
local function preview(id)
  local out, stderr = call('preview', id)
  if not out then return nil, stderr end
  local p, why = M.parse_preview(out, stderr)
  if not p then return nil, why end
  if p.nothing then return p end
  show_text('preview/' .. id .. '-' .. p.sha256:sub(1, 12), p.text, 'json')
  return p
end

local function consent(id)
  local study, err = show_study(id)
  if not study then return nil, err end
  if study.consent then return 'You already consented to "' .. study.title .. '" (:PencilResearch receipts).' end
  local pick = M.ui.confirm('Read the study above. Who is giving consent to "' .. study.title .. '"?',
    '&Me\n&Parent or guardian\n&School\n&Cancel', 4)
  local by = ({ 'student', 'parent', 'school' })[pick]
  if not by then return 'No consent was recorded.' end
  local age
  if by == 'student' and study.guardian_below_age > 0 then
    local typed = vim.trim(M.ui.input("How old are you? (only checks the study's age rule; it is not stored) "))
    age = typed:match('^%d%d?%d?$') and tonumber(typed)
    if not age or age < 3 or age > 120 then return nil, 'type your age as a number, like 14; no consent was recorded' end
    if age < study.guardian_below_age then
      return ('This study asks students under %d to have a parent, a guardian or the school consent for them. Nothing was recorded.'):format(study.guardian_below_age)
    end
  end
  local sure = M.ui.confirm(('Consent %s to "%s"? Programs you run from now on are kept for it (names and the like removed); nothing from before, and nothing is sent until you preview and send it. You can withdraw at any time.')
    :format(by == 'student' and 'yourself' or ('as your ' .. (by == 'parent' and 'parent or guardian' or 'school')), study.title), '&I agree\n&Cancel', 2)
  if sure ~= 1 then return 'No consent was recorded.' end
  return call('consent', study.id, by, age)
end

local function send(id)
  local p, err = preview(id)
  if not p then return nil, err end
  if p.nothing then return p.nothing end
  local sure = M.ui.confirm(('Send these %d bytes (shown above, SHA-256 %s) to study "%s"? If anything changed since, nothing is sent.')
    :format(p.bytes, p.sha256, id), '&Send\n&Cancel', 2)
  if sure ~= 1 then return 'Nothing was sent.' end
  return call('upload', id, p.sha256)
end

-- :PencilResearch studies | show ID|FILE | consent ID|FILE | preview ID | send ID | receipts | revoke ID.
-- Returns what it reported (nil on failure, after saying why).
function M.research(args)
  local action, target = args[1], args[2]
  local result, err
  if action == 'studies' then
    local list
    list, err = call('list')
    if list then list, err = M.parse_list(list) end
    if list then
      local lines = M.list_lines(list)
      vim.list_extend(lines, { '', ':PencilResearch show ID (or a study file) reads one; :PencilResearch consent ID takes part.' })
      result = table.concat(lines, '\n')
      show_text('studies', result)
    else
      err = 'your studies could not be listed: ' .. err
    end
  elseif action == 'show' and target then
    result, err = show_study(target)
    if result then result = result.title end
  elseif action == 'consent' and target then
    result, err = consent(target)
  elseif action == 'preview' and target then
    local p
    p, err = preview(target)
    if p then
      result = p.nothing or ('This is exactly what study "%s" would receive: %d bytes, SHA-256 %s. Nothing has been sent.'):format(target, p.bytes, p.sha256)
    end
  elseif action == 'send' and target then
    result, err = send(target)
  elseif action == 'receipts' then
    local rs
    rs, err = receipts()
    if rs then
      result = table.concat(M.receipt_lines(rs), '\n')
      show_text('receipts', result)
    end
  elseif action == 'revoke' and target then
    if M.ui.confirm('Withdraw your consent to study "' .. target .. '"? Nothing more is collected, anything not yet sent is deleted here, and the study is asked to delete what it has.', '&Withdraw\n&Cancel', 2) == 1 then
      result, err = call('revoke', target)
    else
      result = 'Your consent was not withdrawn.'
    end
  else
    err = 'usage: :PencilResearch studies | show ID | consent ID | preview ID | send ID | receipts | revoke ID'
  end
  if not result then
    notify(err, vim.log.levels.ERROR)
    return nil
  end
  if action ~= 'studies' and action ~= 'receipts' and action ~= 'show' then notify(vim.trim(result)) end
  return result
end

-- setup{ cmd = {...}, settings = { dataDir = ..., recordOnSave = true, quickFixes = true }, research = { namesDir = ... } }
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
    { nargs = '+', desc = "Your teacher's class: join CODE URL NAME | show | hands | ask [MESSAGE] | leave" })
  vim.api.nvim_create_user_command('PencilResearch', function(o) M.research(o.fargs) end,
    { nargs = '+', desc = 'Research studies: studies | show ID | consent ID | preview ID | send ID | receipts | revoke ID' })
end

return M
