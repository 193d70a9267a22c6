-- Checks :PencilResearch's argument building and reading, then runs it against the
-- real pencil-lsp: read a signed study, consent (answers scripted through M.ui),
-- record a run, preview the exact bytes, send exactly those, withdraw.
--   nvim --headless -u NONE -i NONE -c 'luafile editor-extensions/neovim/test/research.lua'
-- from the repository root (PENCIL_LSP, PENCIL_NAMES_DIR override the defaults;
-- node signs the test study). Exits 0 when every check passes.
local root = vim.fn.getcwd()
vim.opt.runtimepath:append(root .. '/editor-extensions/neovim')
local pencil = require('pencil')
local failures = 0

local function check(name, fn)
  local ok, err = xpcall(fn, debug.traceback)
  io.stdout:write((ok and 'ok   ' or 'FAIL ') .. name .. (ok and '' or ('\n' .. err)) .. '\n')
  if not ok then failures = failures + 1 end
end

local function eq(a, b, what)
  if not vim.deep_equal(a, b) then error((what or 'values differ') .. ': ' .. vim.inspect(a) .. ' ~= ' .. vim.inspect(b), 2) end
end

local bin = os.getenv('PENCIL_LSP') or (root .. '/target/debug/pencil-lsp')
local names = os.getenv('PENCIL_NAMES_DIR') or (root .. '/.deps/names')
local dir = vim.fn.tempname()
vim.fn.mkdir(dir, 'p')
pencil.setup({ cmd = { bin }, settings = { dataDir = dir .. '/store' }, research = { namesDir = names } })

check('argument lists carry the store, and preview and upload the same name lists', function()
  local sha = string.rep('ab', 32)
  eq(pencil.research_args('list'), { 'research', 'study', 'list', '--data-dir', dir .. '/store' })
  eq(pencil.research_args('show', '/tmp/s.json')[4], '/tmp/s.json')
  eq(pencil.research_args('consent', 'loops', 'student', 16),
    { 'research', 'consent', '--study', 'loops', '--by', 'student', '--age', '16', '--yes', '--data-dir', dir .. '/store' })
  eq(pencil.research_args('preview', 'loops'), { 'research', 'preview', '--study', 'loops', '--names', names, '--data-dir', dir .. '/store' })
  eq(pencil.research_args('upload', 'loops', sha),
    { 'research', 'upload', '--study', 'loops', '--expect-sha256', sha, '--names', names, '--data-dir', dir .. '/store' })
  eq(pencil.research_args('receipts')[3], '--json')
  for _, bad in ipairs({ '--yes', 'Loops', 'a b', 'x.json' }) do eq(pencil.research_args('revoke', bad), nil, bad) end
  eq(pencil.research_args('upload', 'loops', 'AB'), nil)
  eq(pencil.research_args('consent', 'loops', 'teacher'), nil)
end)

check('a study description gives the age rule and the consent state', function()
  local s = pencil.parse_study('Study "loops": Loops (2)\nConsent text, version 2 (students under 16 need a parent\'s or the school\'s consent):\n  Hi\nYour consent: not given. To consent: ...\n')
  eq({ s.id, s.title, s.guardian_below_age, s.consented }, { 'loops', 'Loops (2)', 16, false })
  s = pencil.parse_study('x\nStudy "a": A\nConsent text, version 1 (anyone may consent for themselves):\nYour consent: given 2026-01-01 by parent\n')
  eq({ s.guardian_below_age, s.consented }, { 0, true })
  eq(pencil.parse_study('Your class offers no studies.'), nil)
end)

check("a preview's SHA-256 is computed from its bytes and must match pencil-lsp's", function()
  local body = '{"traces":[]}'
  local sha = vim.fn.sha256(body)
  local p = pencil.parse_preview(body, "\nThat is upload r-1 of study 'loops': " .. #body .. ' bytes, sha256 ' .. sha .. '.\n')
  eq({ p.text, p.bytes, p.sha256 }, { body, #body, sha })
  local bad, why = pencil.parse_preview(body, "That is upload r-1 of study 'loops': 13 bytes, sha256 " .. string.rep('0', 64))
  eq(bad, nil)
  assert(why:match('do not match'))
  eq(pencil.parse_preview('', "Nothing to send for study 'loops': nothing new.\n").nothing, "Nothing to send for study 'loops': nothing new.")
  eq(pencil.tool_error("Error: no study 'x'\n\nStack backtrace:\n 0: x\n"), "no study 'x'")
end)

local have = vim.fn.executable(bin) == 1 and vim.fn.isdirectory(names) == 1 and vim.fn.executable('node') == 1
if not have then
  io.stdout:write('skip the real pencil-lsp: needs ' .. bin .. ', ' .. names .. ' and node\n')
else
  check('consent, preview, send and withdraw against the real pencil-lsp', function()
    local study = dir .. '/study.json'
    local sign = [[
const c = require('node:crypto'); const { privateKey, publicKey } = c.generateKeyPairSync('ed25519');
const study = { version: 1, id: 'loops', title: 'How students learn loops', institution: 'Example University',
  ethics_approval: 'IRB-2024-117', contact: 'research@example.edu',
  researcher_key: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64'),
  collects: { programs: 'full', timestamps: 'minute', hints: false }, retention_days: 365,
  consent: { version: '3', text: 'We would like to see how your programs change.', guardian_below_age: 16 } };
const signature = c.sign(null, Buffer.from('pencil-study-v1\n' + JSON.stringify(study)), privateKey).toString('base64');
require('node:fs').writeFileSync(process.argv[1], JSON.stringify({ study, signature }));]]
    vim.fn.system({ 'node', '-e', sign, study })
    assert(vim.v.shell_error == 0, 'node could not sign the test study')

    eq(pencil.research({ 'show', study }), 'How students learn loops')
    local shown = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
    assert(shown:match('Consent text, version 3') and not shown:match('pencil%-lsp research consent'), shown)
    assert(not vim.bo.modifiable, 'the study buffer is read-only')

    local answers = { confirm = { 1 }, input = { '13' } }
    pencil.ui = {
      confirm = function() return table.remove(answers.confirm, 1) end,
      input = function() return table.remove(answers.input, 1) end,
    }
    assert(pencil.research({ 'consent', 'loops' }):match('under 16'), 'a 13-year-old cannot consent alone')
    answers.confirm = { 1, 1 }
    answers.input = { '16' }
    assert(pencil.research({ 'consent', 'loops' }):match('^Consent recorded'))
    local receipts = pencil.research({ 'receipts' })
    assert(receipts:match('Study "loops": consent text version 3, given by you'), receipts)
    assert(pencil.research({ 'preview', 'loops' }):match('^Nothing to send'))

    -- Record a run the way :PencilRun does.
    vim.cmd('edit ' .. dir .. '/square.coffee')
    vim.api.nvim_buf_set_lines(0, 0, -1, false, { 'pen red', 'for [1..4]', '  fd 100', '  rt 90' })
    pencil.attach(0)
    assert(pencil.run(0), 'the run was recorded')
    local said = pencil.research({ 'preview', 'loops' })
    local bytes = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
    assert(bytes:match('fd 100'), bytes)
    assert(said:match('SHA%-256 ' .. vim.fn.sha256(bytes) .. '%. Nothing has been sent'), said)
    assert(vim.bo.filetype == 'json' and not vim.bo.modifiable)

    answers.confirm = { 2 }
    eq(pencil.research({ 'send', 'loops' }), 'Nothing was sent.')
    answers.confirm = { 1 }
    local sent = pencil.research({ 'send', 'loops' })
    assert(sent:match('is queued and will be sent as it is'), sent) -- not in a class: the exact bytes wait in the outbox

    answers.confirm = { 1 }
    assert(pencil.research({ 'revoke', 'loops' }):match('withdrawn'))
    assert(pencil.research({ 'receipts' }):match('Withdrawn on'))
    eq(pencil.research({ 'preview', 'loops' }), nil, 'nothing is previewed after withdrawing')
  end)
end

vim.fn.delete(dir, 'rf')
io.stdout:write(failures == 0 and 'all research checks passed\n' or (failures .. ' research check(s) failed\n'))
vim.cmd(failures == 0 and 'qa!' or 'cquit 1')
