// The offline Pencil Code editor page that `pencil-lsp --listen` serves: CodeMirror
// with @codemirror/lsp-client over this page's own WebSocket to the coach, a Run
// button, the turtle's drawing beside the code, the coach's problems and checked
// fixes (previewed before they are used) and its hints in quiet side panels.
// Student code stays in this page and the coach's store: nothing here logs or
// keeps it anywhere else.

import { basicSetup } from 'codemirror';
import { EditorView, keymap } from '@codemirror/view';
import { Compartment, Prec } from '@codemirror/state';
import { StreamLanguage } from '@codemirror/language';
import { coffeeScript } from '@codemirror/legacy-modes/mode/coffeescript';
import { forEachDiagnostic, lintGutter, setDiagnosticsEffect } from '@codemirror/lint';
import { LSPClient, LSPPlugin, serverDiagnostics } from '@codemirror/lsp-client';
import { renderDrawing } from '../../drawing/src/render.ts';
import { applyTextEdits, changedLines, cleanTitle, hintWords, uriForTitle, verdictWords } from './words.js';

const RUN_METHOD = 'pencil/run';
const HINT_METHOD = 'pencil/hint';
const REFLECT_COMMAND = 'pencil.reflect';
const ASK_TEACHER_COMMAND = 'pencil.askTeacher';
// Class and research (see lsp-server/src/server/trust.rs): reads, and the guarded
// methods that only file a confirmation the student gives in the coach's own window.
const CLASS_SHOW_METHOD = 'pencil/class/show';
const CLASS_JOIN_METHOD = 'pencil/class/join';
const STUDIES_METHOD = 'pencil/research/studies';
const STUDY_METHOD = 'pencil/research/study';
const RECEIPTS_METHOD = 'pencil/research/receipts';
const CONSENT_METHOD = 'pencil/research/consent';
const SEND_METHOD = 'pencil/research/send';
const WITHDRAW_METHOD = 'pencil/research/withdraw';
const CONFIRMATION_NOTIFICATION = 'pencil/confirmation';
const CONFIRMATION_NEEDED = -32010;
// The sandbox has its own time limit; this only stops the page from waiting forever.
const REQUEST_TIMEOUT_MS = 60000;
const FIRST_PROGRAM = 'pen red\nfd 100\nrt 90\nfd 50\n';

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const token = /** @type {HTMLMetaElement} */ (document.querySelector('meta[name="pencil-lsp-token"]')).content;
const nonce = /** @type {HTMLScriptElement} */ (document.currentScript)?.nonce || '';

const runButton = /** @type {HTMLButtonElement} */ ($('run'));
const titleInput = /** @type {HTMLInputElement} */ ($('title'));
const hintSize = /** @type {HTMLSelectElement} */ ($('hint-size'));
const canvas = /** @type {HTMLCanvasElement} */ ($('drawing'));

/**
 * What a bench or test reads back: per Run, when it started, when its
 * diagnostics reached the editor and when its drawing was on the canvas
 * (performance.now() milliseconds). Times only, never the program.
 * @type {{runs: {started: number, diagnostics?: number, drawing?: number, drew?: boolean, status?: string, done?: number}[]}}
 */
const timings = { runs: [] };
Object.defineProperty(window, 'pencilTimings', { value: timings });

// ---- Connection -----------------------------------------------------------

/** @param {string} text @param {'ok'|'busy'|'problem'} tone */
function setConnection(text, tone) {
  const el = $('connection');
  el.textContent = text;
  el.dataset.tone = tone;
}

/** The coach's socket as an lsp-client Transport (one JSON-RPC message per WebSocket message). */
function openTransport() {
  const socket = new WebSocket(`ws://${location.host}/`, [`pencil-lsp.token.${token}`]);
  /** @type {((message: string) => void)[]} */
  let handlers = [];
  socket.onmessage = (event) => {
    for (const h of handlers) h(String(event.data));
  };
  return new Promise((resolve, reject) => {
    socket.onopen = () => {
      socket.onclose = () => {
        setConnection('The coach stopped. Start pencil-lsp again, then open the address it prints.', 'problem');
        runButton.disabled = true;
      };
      resolve({
        socket,
        transport: {
          send(/** @type {string} */ message) {
            if (socket.readyState !== WebSocket.OPEN) throw new Error('the coach is not connected');
            socket.send(message);
          },
          subscribe(/** @type {(m: string) => void} */ h) { handlers.push(h); },
          unsubscribe(/** @type {(m: string) => void} */ h) { handlers = handlers.filter((x) => x !== h); },
        },
      });
    };
    socket.onerror = () => reject(new Error('refused'));
  });
}

// ---- Hints and messages (quiet side panel, never a dialog) ------------------

/** @param {string} text @param {string} kind */
function addNote(text, kind) {
  const list = $('hints');
  $('no-hints').hidden = true;
  const item = document.createElement('li');
  item.className = kind;
  item.textContent = text;
  list.prepend(item);
  while (list.children.length > 6) list.lastElementChild?.remove();
}

// ---- The client ---------------------------------------------------------------

/** Confirmations the coach's window is asking the student for, by id. @type {Map<string, (outcome: any) => void>} */
const waitingConfirmations = new Map();

const client = new LSPClient({
  timeout: REQUEST_TIMEOUT_MS,
  initializationOptions: { pencil: { hintSize: hintSize.value } },
  extensions: [serverDiagnostics()],
  notificationHandlers: {
    [HINT_METHOD]: (_client, /** @type {{message: string}} */ params) => {
      addNote(hintWords(params.message), 'hint');
      return true;
    },
    // What became of a confirmation the student was asked for (see `confirmed`).
    [CONFIRMATION_NOTIFICATION]: (_client, /** @type {{id: string, outcome: string, message: string, result: any}} */ params) => {
      const done = waitingConfirmations.get(params.id);
      if (done) {
        waitingConfirmations.delete(params.id);
        done(params);
      }
      return true;
    },
    // The server's messages go to the side panel, not over the code.
    'window/showMessage': (_client, /** @type {{message: string, type: number}} */ params) => {
      if (params.type <= 3) addNote(params.message, 'message');
      return true;
    },
  },
});

// ---- The editor -----------------------------------------------------------------

let title = cleanTitle(new URLSearchParams(location.hash.slice(1)).get('title') || 'turtle');
let uri = uriForTitle(title);
titleInput.value = title;
const lsp = new Compartment();

const view = new EditorView({
  parent: $('editor'),
  doc: FIRST_PROGRAM,
  extensions: [
    Prec.highest(keymap.of([{ key: 'Mod-Enter', run: () => { run(); return true; } }])),
    basicSetup,
    StreamLanguage.define(coffeeScript),
    lintGutter(),
    EditorView.cspNonce.of(nonce),
    EditorView.contentAttributes.of({ 'aria-label': 'Your program' }),
    EditorView.updateListener.of((update) => {
      if (update.transactions.some((tr) => tr.effects.some((e) => e.is(setDiagnosticsEffect)))) diagnosticsArrived();
      if (update.docChanged) forgetFixes('Your code changed. Press Run to check it again.');
    }),
    lsp.of([]),
  ],
});

/** Points the editor at the document for `title` (the server's trace title). */
function useTitle(/** @type {string} */ typed) {
  const next = cleanTitle(typed);
  titleInput.value = next;
  if (next === title && LSPPlugin.get(view)) return;
  title = next;
  uri = uriForTitle(title);
  history.replaceState(null, '', `${location.pathname}${location.search}#title=${encodeURIComponent(title)}`);
  // A new plugin value closes the old document and opens this one on the server.
  view.dispatch({ effects: lsp.reconfigure(client.plugin(uri, 'coffeescript')) });
  forgetFixes('');
  showProblems([]);
}

// ---- Problems, fixes and their preview ---------------------------------------------

/** @type {{uri: string, doc: import('@codemirror/state').Text, actions: any[]} | null} */
let offered = null;

function diagnosticsArrived() {
  // The server sends them before its answer to Run, but they may arrive after it.
  const run = timings.runs[timings.runs.length - 1];
  if (run && run.diagnostics === undefined) run.diagnostics = performance.now();
  /** @type {{line: number, message: string, severity: string}[]} */
  const problems = [];
  forEachDiagnostic(view.state, (d, from) => {
    problems.push({ line: view.state.doc.lineAt(from).number, message: d.message, severity: d.severity });
  });
  showProblems(problems);
}

/** @param {{line: number, message: string, severity: string}[]} problems */
function showProblems(problems) {
  const list = $('problems');
  list.replaceChildren();
  $('no-problems').hidden = problems.length > 0;
  $('no-problems').textContent = timings.runs.length ? 'No problems found.' : 'Press Run to check your program.';
  for (const p of problems) {
    const item = document.createElement('li');
    const go = document.createElement('button');
    go.type = 'button';
    go.className = `problem ${p.severity}`;
    go.textContent = `Line ${p.line}: ${p.message}`;
    go.addEventListener('click', () => {
      const line = view.state.doc.line(Math.min(p.line, view.state.doc.lines));
      view.dispatch({ selection: { anchor: line.from }, scrollIntoView: true });
      view.focus();
    });
    item.append(go);
    list.append(item);
  }
}

/** Drops the offered fixes (they were for other code) and says why, if `why`. */
function forgetFixes(/** @type {string} */ why) {
  $('reflect').hidden = true;
  if (offered) {
    offered = null;
    $('fixes').replaceChildren();
    $('preview').hidden = true;
    $('fix-note').textContent = why;
  } else if (why === '') {
    $('fix-note').textContent = '';
  }
}

/** Asks the server for the checked fixes of the run that just failed. */
async function fetchFixes() {
  const plugin = LSPPlugin.get(view);
  if (!plugin) return;
  const doc = view.state.doc;
  const end = plugin.toPosition(doc.length, doc);
  $('fix-note').textContent = 'The coach is looking for fixes…';
  /** @type {any[] | null} */
  const actions = await client.request('textDocument/codeAction', {
    textDocument: { uri },
    range: { start: { line: 0, character: 0 }, end },
    context: { diagnostics: [], only: ['quickfix'] },
  });
  if (view.state.doc !== doc) {
    // Typed meanwhile: these fixes are for older code.
    $('fix-note').textContent = 'Your code changed. Press Run to check it again.';
    return;
  }
  // Under a reflect-first class policy, one action without edits asks for the student's words first.
  const reflect = (actions || []).find((a) => !a.edit && a.command && a.command.command === REFLECT_COMMAND);
  $('reflect').hidden = !reflect;
  const usable = (actions || []).filter((a) => a.edit && a.edit.changes && a.edit.changes[uri]);
  offered = { uri, doc, actions: usable };
  const box = $('fixes');
  box.replaceChildren();
  $('fix-note').textContent = reflect
    ? 'Fixes are shown after you write what you think is wrong.'
    : usable.length
      ? 'The coach checked these fixes: your program runs with each of them.'
      : 'The coach found no fix it could check this time.';
  usable.forEach((action, i) => {
    const show = document.createElement('button');
    show.type = 'button';
    show.className = 'show-fix';
    show.textContent = `See fix: ${action.title}`;
    show.addEventListener('click', () => preview(i));
    box.append(show);
  });
}

/** Shows what fix `i` would change, with buttons to use it or not. */
function preview(/** @type {number} */ i) {
  if (!offered) return;
  const action = offered.actions[i];
  const before = offered.doc.toString();
  const after = applyTextEdits(before, action.edit.changes[offered.uri]);
  const change = changedLines(before, after);
  const lines = $('preview-lines');
  lines.replaceChildren();
  const row = (/** @type {string} */ sign, /** @type {string} */ text, /** @type {number} */ n) => {
    const el = document.createElement('div');
    el.className = sign === '-' ? 'removed' : 'added';
    const num = document.createElement('span');
    num.className = 'num';
    num.textContent = `${sign === '-' ? 'now' : 'fixed'} ${n}`;
    const code = document.createElement('code');
    code.textContent = text || ' ';
    el.append(num, code);
    lines.append(el);
  };
  change.removed.forEach((t, k) => row('-', t, change.line + k));
  change.added.forEach((t, k) => row('+', t, change.line + k));
  $('preview-title').textContent = action.title;
  $('preview').hidden = false;
  $('preview').dataset.index = String(i);
  /** @type {HTMLButtonElement} */ ($('use-fix')).focus();
}

async function useFix() {
  if (!offered) return;
  const action = offered.actions[Number($('preview').dataset.index)];
  const doc = offered.doc;
  if (view.state.doc !== doc) {
    forgetFixes('Your code changed. Press Run to check it again.');
    return;
  }
  const plugin = LSPPlugin.get(view);
  if (!plugin) return;
  /** @type {{range: any, newText: string}[]} */
  const edits = action.edit.changes[offered.uri];
  const changes = edits.map((e) => ({
    from: plugin.fromPosition(e.range.start, doc),
    to: plugin.fromPosition(e.range.end, doc),
    insert: e.newText,
  }));
  forgetFixes('');
  view.dispatch({ changes, userEvent: 'input.fix' });
  $('fix-note').textContent = 'Fix used. Press Run to try your program again.';
  client.sync();
  // Like any LSP client: the command attached to the applied action runs next.
  if (action.command) {
    try {
      await client.request('workspace/executeCommand', { command: action.command.command, arguments: action.command.arguments || [] });
    } catch {
      // Only bookkeeping (the coach remembers the fix was used): the fix itself is in.
    }
  }
  view.focus();
}

$('use-fix').addEventListener('click', useFix);

/** Sends one of the coach's commands; shows its answer (or why not) under Hints. */
async function coachCommand(/** @type {string} */ command, /** @type {unknown[]} */ args) {
  try {
    /** @type {{message?: string} | null} */
    const answer = await client.request('workspace/executeCommand', { command, arguments: args });
    if (answer && answer.message) addNote(answer.message, 'message');
    return true;
  } catch (e) {
    addNote(`The coach could not do that: ${/** @type {Error} */ (e).message}`, 'message');
    return false;
  }
}

$('reflect').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = /** @type {HTMLTextAreaElement} */ ($('reflect-text'));
  if (await coachCommand(REFLECT_COMMAND, [uri, text.value])) {
    text.value = '';
    $('reflect').hidden = true;
    fetchFixes();
  }
});

$('ask').addEventListener('submit', async (e) => {
  e.preventDefault();
  if (inClass === false) {
    addNote('You are not in a class yet: join your teacher\'s class under "My class", then ask here.', 'message');
    return;
  }
  const text = /** @type {HTMLTextAreaElement} */ ($('ask-text'));
  const share = /** @type {HTMLInputElement} */ ($('ask-share'));
  client.sync();
  const message = text.value.trim();
  const args = [{ uri, shareTrace: share.checked, ...(message ? { message } : {}) }];
  if (!share.checked) {
    if (await coachCommand(ASK_TEACHER_COMMAND, args)) text.value = '';
    return;
  }
  // The saved versions leave only after the student confirms in the coach's own window.
  const note = $('ask-note');
  try {
    const r = await confirmed('workspace/executeCommand', { command: ASK_TEACHER_COMMAND, arguments: args }, note);
    note.textContent = outcomeWords(r);
    if (r.outcome === 'done') {
      text.value = '';
      share.checked = false;
    }
  } catch (e) {
    note.textContent = `The coach could not do that: ${errorWords(e)}`;
  }
});
$('cancel-fix').addEventListener('click', () => { $('preview').hidden = true; });

// ---- Run ----------------------------------------------------------------------------

let running = false;

/** @param {'ok'|'error'|'stopped'|'busy'} tone @param {string} headline @param {string} detail */
function setVerdict(tone, headline, detail) {
  const box = $('verdict');
  box.dataset.tone = tone;
  $('verdict-headline').textContent = headline;
  $('verdict-detail').textContent = detail;
}

async function run() {
  if (running || runButton.disabled) return;
  const plugin = LSPPlugin.get(view);
  if (!plugin) return;
  running = true;
  runButton.setAttribute('aria-busy', 'true');
  setVerdict('busy', 'Running your program…', '');
  forgetFixes('');
  /** @type {(typeof timings.runs)[number]} */
  const timing = { started: performance.now() };
  timings.runs.push(timing);
  try {
    client.sync();
    /** @type {any} */
    const result = await client.request(RUN_METHOD, { textDocument: { uri }, drawing: true });
    timing.status = result.status;
    const words = verdictWords(result);
    setVerdict(words.tone, words.headline, words.detail);
    showDrawing(result.drawing || null, result.status);
    timing.drawing = performance.now();
    timing.drew = Boolean(result.drawing);
    // Fixes come after the verdict: "Fix in my style" may take a few seconds to find.
    if (result.status !== 'ok') {
      fetchFixes().catch(() => { $('fix-note').textContent = 'The coach could not look for fixes this time.'; });
    }
  } catch (e) {
    const message = e && typeof e === 'object' && 'message' in e ? String(e.message) : String(e);
    setVerdict('stopped', 'The coach could not run your program.', message);
  } finally {
    timing.done = performance.now();
    running = false;
    runButton.removeAttribute('aria-busy');
  }
}

/** The drawing on the canvas, to draw again when the canvas changes size or zoom. */
let shown = null;
const zoom = $('zoom');

/** @param {any} drawing @param {string} status */
function showDrawing(drawing, status) {
  const note = $('drawing-note');
  shown = drawing;
  if (!drawing) {
    const ctx = canvas.getContext('2d');
    if (ctx) {
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.fillStyle = 'white';
      ctx.fillRect(0, 0, canvas.width, canvas.height);
    }
    note.textContent = 'No drawing yet: fix the problem and press Run again.';
    canvas.dataset.ops = '0';
    return;
  }
  zoom.hidden = false;
  draw();
  canvas.dataset.ops = String(drawing.ops.length);
  note.textContent = status === 'ok' ? '' : 'This is what your program drew before it stopped.';
}

// The whole page at Pencil Code's proportions by default (a longer line looks
// longer); zoomed, what was drawn fills the canvas.
function draw() {
  if (shown) renderDrawing(canvas, shown, { turtles: true, fit: zoom.getAttribute('aria-pressed') === 'true' ? 'content' : 'page' });
}

zoom.addEventListener('click', () => {
  const on = zoom.getAttribute('aria-pressed') !== 'true';
  zoom.setAttribute('aria-pressed', String(on));
  draw();
});
new ResizeObserver(() => draw()).observe(canvas);

runButton.addEventListener('click', () => { run(); });
// Ctrl+Enter / Cmd+Enter also runs when the focus is outside the code.
window.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !view.hasFocus) {
    e.preventDefault();
    run();
  }
});

// ---- Title and hint size -----------------------------------------------------------------

titleInput.addEventListener('change', () => useTitle(titleInput.value));
titleInput.addEventListener('keydown', (e) => {
  if (e.key === 'Enter') {
    e.preventDefault();
    useTitle(titleInput.value);
    view.focus();
  }
});
hintSize.addEventListener('change', () => {
  client.notification('workspace/didChangeConfiguration', { settings: { pencil: { hintSize: hintSize.value } } });
  addNote(`Fixes will now suggest ${hintSize.value} changes.`, 'message');
});

// ---- Confirmations, the class and research studies ---------------------------------------------

/** The words of a failed request. @param {unknown} e */
function errorWords(e) {
  return e && typeof e === 'object' && 'message' in e ? String(e.message) : String(e);
}

/**
 * Asks the coach for something only the student may allow (joining a class, research
 * consent, sending, withdrawing). The page cannot do it by itself: the coach answers
 * with the address of its own confirmation window, which says what will happen; only
 * the student's click there does it, and the coach then tells this page the outcome.
 * @param {string} method @param {object} params @param {HTMLElement} note where to say what is going on
 * @returns {Promise<{outcome: string, message: string, result: any}>}
 */
async function confirmed(method, params, note) {
  try {
    /** @type {any} */
    const answer = await client.request(method, params);
    return { outcome: 'done', message: (answer && answer.message) || '', result: answer ? answer.result : null };
  } catch (e) {
    const err = /** @type {any} */ (e);
    if (!err || err.code !== CONFIRMATION_NEEDED || !err.data || typeof err.data.url !== 'string') throw e;
    const { id, url } = err.data;
    const outcome = new Promise((resolve) => waitingConfirmations.set(id, resolve));
    // Its own window, which this page cannot read or click in (noopener).
    window.open(url, '_blank', 'noopener,popup,width=760,height=820');
    const link = document.createElement('a');
    link.href = url;
    link.target = '_blank';
    link.rel = 'noopener';
    link.textContent = 'open it here';
    note.replaceChildren('Read what will happen in the coach\'s window, then confirm or cancel there. No window? ', link, '.');
    return outcome;
  }
}

/** What a confirmation came to, in words. @param {{outcome: string, message: string}} r */
function outcomeWords(r) {
  if (r.outcome === 'done') return r.message;
  if (r.outcome === 'cancelled') return 'Cancelled: nothing was done.';
  if (r.outcome === 'expired') return 'The confirmation window expired: nothing was done.';
  return `It did not work: ${r.message}`;
}

/** Whether a class is joined (null: not known yet). @type {boolean | null} */
let inClass = null;

/** Shows the class joined and its rules, or the form to join one. */
async function showClass() {
  /** @type {any} */
  let info;
  try {
    info = await client.request(CLASS_SHOW_METHOD, null);
  } catch (e) {
    $('class-info').textContent = `The coach could not say: ${errorWords(e)}`;
    return;
  }
  inClass = Boolean(info && info.joined);
  const policy = $('class-policy');
  policy.replaceChildren();
  if (inClass) {
    $('class-info').textContent = `You are in the class "${info.className}" on ${info.hubUrl} as "${info.displayName}".`;
    for (const line of info.policy || []) {
      const item = document.createElement('li');
      item.textContent = line;
      policy.append(item);
    }
    $('ask-label').textContent = 'Your program as it is now goes to your teacher, with your message (optional). The reply appears under Hints.';
  } else {
    $('class-info').textContent = 'You are not in a class yet. Your teacher gives you a hub address and a class code.';
    $('ask-label').textContent = 'You are not in a class yet: join your teacher\'s class under "My class", then ask here.';
  }
  $('join').hidden = inClass;
}

$('join').addEventListener('submit', async (e) => {
  e.preventDefault();
  const value = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ ($(id)).value.trim();
  const note = $('class-note');
  note.textContent = 'Asking the coach…';
  try {
    const r = await confirmed(CLASS_JOIN_METHOD, { hub: value('join-hub'), code: value('join-code'), name: value('join-name') }, note);
    // The coach's report starts with the line that says which class was joined.
    note.textContent = r.outcome === 'done' ? r.message.split('\n')[0] : outcomeWords(r);
    if (r.outcome === 'done') await showClass();
  } catch (err) {
    note.textContent = `Not joined: ${errorWords(err)}`;
  }
});

/** The studies listed last, by id (their "collects" words). @type {Map<string, any>} */
const listedStudies = new Map();
/** The study shown. @type {any} */
let shownStudy = null;

async function showStudies() {
  const note = $('research-note');
  note.textContent = 'Asking the coach…';
  /** @type {any[]} */
  let listed;
  try {
    listed = await client.request(STUDIES_METHOD, null);
  } catch (e) {
    note.textContent = `The coach could not list the studies: ${errorWords(e)}`;
    return;
  }
  note.textContent = listed.length ? '' : (inClass ? 'Your class offers no studies.' : 'Join your class to see the studies it offers.');
  const list = $('studies');
  list.replaceChildren();
  listedStudies.clear();
  for (const l of listed) {
    listedStudies.set(l.id, l);
    const item = document.createElement('li');
    if (l.refused) {
      item.textContent = `${l.id}: refused (${l.refused})`;
    } else {
      const read = document.createElement('button');
      read.type = 'button';
      read.textContent = `${l.title}${l.consent_given ? ' (you agreed)' : ''}`;
      read.addEventListener('click', () => openStudy(l.id));
      item.append(read, ` ${l.institution}`);
    }
    list.append(item);
  }
  showReceipts();
}

/** Shows one study: who runs it, what it collects, its consent text; and what can be done. */
async function openStudy(/** @type {string} */ id) {
  const note = $('research-note');
  /** @type {any} */
  let shown;
  try {
    shown = await client.request(STUDY_METHOD, { study: id });
  } catch (e) {
    note.textContent = `The coach could not show the study: ${errorWords(e)}`;
    return;
  }
  const s = shown.study;
  shownStudy = s;
  $('study-title').textContent = s.title;
  const facts = $('study-facts');
  facts.replaceChildren();
  const listed = listedStudies.get(id);
  for (const [term, text] of [
    ['Who runs it', s.institution],
    ['Ethics approval', s.ethics_approval],
    ['Contact', s.contact],
    ['What is collected', listed && listed.collects ? listed.collects : JSON.stringify(s.collects)],
    ['Kept for', `${s.retention_days} days`],
    ['Researcher key', shown.researcher_key_fingerprint],
  ]) {
    const dt = document.createElement('dt');
    dt.textContent = term;
    const dd = document.createElement('dd');
    dd.textContent = text;
    facts.append(dt, dd);
  }
  const age = s.consent.guardian_below_age;
  $('study-consent-label').textContent = `Consent text, version ${s.consent.version}${age ? ` (students under ${age} need a parent's or the school's agreement)` : ''}:`;
  $('study-consent-text').textContent = s.consent.text;
  const consent = shown.consent;
  $('consent').hidden = Boolean(consent);
  $('consented').hidden = !consent;
  if (consent) $('consented-note').textContent = `Agreed on ${consent.consented_at} UTC by ${consent.consented_by} (consent text version ${consent.consent_version}).`;
  updateAgeRow();
  $('study').hidden = false;
}

function updateAgeRow() {
  const by = /** @type {HTMLInputElement | null} */ (document.querySelector('#consent input[name="by"]:checked'));
  $('age-row').hidden = !(shownStudy && shownStudy.consent.guardian_below_age > 0 && by && by.value === 'student');
}

$('consent').addEventListener('change', updateAgeRow);

$('consent').addEventListener('submit', async (e) => {
  e.preventDefault();
  if (!shownStudy) return;
  const by = /** @type {HTMLInputElement} */ (document.querySelector('#consent input[name="by"]:checked')).value;
  const ageText = /** @type {HTMLInputElement} */ ($('consent-age')).value;
  const params = { study: shownStudy.id, by, ...(!$('age-row').hidden && ageText ? { age: Number(ageText) } : {}) };
  await researchStep(CONSENT_METHOD, params);
});

$('send').addEventListener('click', () => shownStudy && researchStep(SEND_METHOD, { study: shownStudy.id }));
$('withdraw').addEventListener('click', () => shownStudy && researchStep(WITHDRAW_METHOD, { study: shownStudy.id }));
$('studies-show').addEventListener('click', showStudies);

/** Consent, send or withdraw, through the coach's confirmation window; then shows the study again. */
async function researchStep(/** @type {string} */ method, /** @type {object} */ params) {
  const note = $('research-note');
  note.textContent = 'Asking the coach…';
  try {
    const r = await confirmed(method, params, note);
    note.textContent = outcomeWords(r);
  } catch (e) {
    note.textContent = errorWords(e);
  }
  if (shownStudy) await openStudy(shownStudy.id);
  showReceipts();
}

async function showReceipts() {
  /** @type {any[]} */
  let receipts;
  try {
    receipts = await client.request(RECEIPTS_METHOD, null);
  } catch {
    return;
  }
  const list = $('receipts');
  list.replaceChildren();
  if (!receipts.length) {
    const item = document.createElement('li');
    item.textContent = 'No consent receipts.';
    list.append(item);
  }
  for (const r of receipts) {
    const item = document.createElement('li');
    item.textContent = `Study "${r.study_id}", consent text version ${r.consent_version}, by ${r.consented_by}, ${r.consented_at} UTC; ${r.uploads} upload(s); ${r.revoked_at ? `withdrawn ${r.revoked_at} UTC` : 'in force'}.`;
    list.append(item);
  }
}

// ---- Start ------------------------------------------------------------------------------------

async function start() {
  runButton.disabled = true;
  setConnection('Connecting to the coach…', 'busy');
  try {
    const { transport } = await openTransport();
    client.connect(transport);
    await client.initializing;
  } catch {
    setConnection('The coach did not let this page in. Open the address pencil-lsp printed again.', 'problem');
    return;
  }
  setConnection('Connected to the coach', 'ok');
  useTitle(title);
  showClass();
  runButton.disabled = false;
  setVerdict('busy', 'Ready.', 'Write your program, then press Run.');
  view.focus();
}

start();
