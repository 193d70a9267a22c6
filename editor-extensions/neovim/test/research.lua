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
  eq(pencil.research_args('list'), { 'research', 'study', 'list', '--json', '--data-dir', dir .. '/store' })
  eq(pencil.research_args('show', '/tmp/s.json'), { 'research', 'study', 'show', '/tmp/s.json', '--json', '--data-dir', dir .. '/store' })
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

local SHOW = {
  study = {
    version = 1, id = 'loops', title = 'Loops (2)', institution = 'Example University', ethics_approval = 'IRB-1',
    contact = 'r@example.edu', researcher_key = 'k', collects = { programs = 'full', timestamps = 'minute', hints = false },
    retention_days = 365, consent = { version = '2', text = 'Hi\nYou can stop.', guardian_below_age = 16 },
  },
  source = 'file', researcher_key_fingerprint = '0a42 76b9', pinned_now = true, first_seen = '2026-12-06 22:28:42', consent = vim.NIL,
}

check("a study's JSON gives the age rule and the consent state, and reads as words", function()
  local s = pencil.parse_study(vim.json.encode(SHOW))
  eq({ s.id, s.title, s.guardian_below_age, s.consent, s.source, s.pinned_now }, { 'loops', 'Loops (2)', 16, nil, 'file', true })
  local text = table.concat(pencil.study_lines(s), '\n')
  assert(text:match('^Study "loops": Loops %(2%)\n'), text)
  assert(text:match('Collects: every version of each program you run, times rounded to the minute, no hints; names'), text)
  assert(text:match("Consent text, version 2 %(students under 16 need a parent's or the school's consent%):\n  Hi\n  You can stop%."), text)
  assert(text:match('Your consent: not given%.$') and not text:match('pencil%-lsp'), text)
  local given = vim.json.decode(vim.json.encode(SHOW))
  given.study.consent.guardian_below_age = 0
  given.consent = { consented_by = 'parent', consented_at = '2026-01-01 10:00:00', consent_version = '2', revoked_at = vim.NIL }
  s = pencil.parse_study(vim.json.encode(given))
  eq({ s.guardian_below_age, s.consent.consented_by }, { 0, 'parent' })
  text = table.concat(pencil.study_lines(s), '\n')
  assert(text:match('anyone may consent for themselves') and text:match('Your consent: given by your parent on 2026%-01%-01 10:00:00 UTC'), text)
  local bad, why = pencil.parse_study('Study "loops": Loops\n')
  eq(bad, nil)
  assert(why:match('something other than a study'), why)
  given.study.consent.guardian_below_age = nil
  bad, why = pencil.parse_study(vim.json.encode(given))
  eq(bad, nil)
  assert(why:match('age rule'), why)
end)

check('the study list reads offered, kept and refused studies', function()
  local l = pencil.parse_list(vim.json.encode({
    { id = 'loops', status = 'offered', title = 'Loops', institution = 'EU', collects = 'the final version', refused = vim.NIL, consent_given = false },
    { id = 'old', status = 'kept', title = 'Old', institution = 'EU', collects = 'x', refused = vim.NIL, consent_given = true },
    { id = 'evil', status = 'refused', title = vim.NIL, institution = vim.NIL, collects = vim.NIL, refused = 'not signed by your teacher', consent_given = false },
  }))
  eq(pencil.list_lines(l), {
    'loops: Loops (EU) [offered by your class]', '  Collects the final version',
    'old: Old (EU) [kept on this machine, you consented]', '  Collects x',
    'evil: not shown, because not signed by your teacher',
  })
  eq(pencil.parse_list('[]'), {})
  assert(pencil.list_lines({})[1]:match('^No studies yet'))
  eq(pencil.parse_list('Not in a class: ...'), nil)
  eq(pencil.parse_list('[{"id":"x","status":"maybe"}]'), nil)
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

    local none = pencil.research({ 'studies' })
    assert(none and none:match('^No studies yet'), 'outside a class with nothing kept: ' .. tostring(none))
    eq(pencil.research({ 'show', study }), 'How students learn loops')
    local shown = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
    assert(shown:match('Consent text, version 3 %(students under 16') and shown:match('Your consent: not given%.') and not shown:match('pencil%-lsp'), shown)
    assert(shown:match('signature checks out'), shown)
    assert(not vim.bo.modifiable, 'the study buffer is read-only')
    local windows = #vim.api.nvim_tabpage_list_wins(0)
    local listed = pencil.research({ 'studies' })
    assert(listed:match('^loops: How students learn loops %(Example University%) %[kept on this machine%]'), listed)
    eq(#vim.api.nvim_tabpage_list_wins(0), windows, 'the list replaces the study in the same window')

    local answers = { confirm = { 1 }, input = { '13' } }
    pencil.ui = {
      confirm = function() return table.remove(answers.confirm, 1) end,
      input = function() return table.remove(answers.input, 1) end,
    }
    assert(pencil.research({ 'consent', 'loops' }):match('under 16'), 'a 13-year-old cannot consent alone')
    answers.confirm = { 1, 1 }
    answers.input = { '16' }
    assert(pencil.research({ 'consent', 'loops' }):match('^Consent recorded'))
    assert(pencil.research({ 'studies' }):match('%[kept on this machine, you consented%]'))
    eq(pencil.research({ 'show', 'loops' }), 'How students learn loops')
    shown = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
    assert(shown:match('Your consent: given by you on .* UTC %(consent text version 3%)%.') and not shown:match('signature checks out'), shown)
    assert(pencil.research({ 'consent', 'loops' }):match('^You already consented'))
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
    assert(not pencil.research({ 'studies' }):match('you consented'), 'withdrawn: no consent in force')
    eq(pencil.research({ 'preview', 'loops' }), nil, 'nothing is previewed after withdrawing')
  end)
end

vim.fn.delete(dir, 'rf')
io.stdout:write(failures == 0 and 'all research checks passed\n' or (failures .. ' research check(s) failed\n'))
vim.cmd(failures == 0 and 'qa!' or 'cquit 1')
