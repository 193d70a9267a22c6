// What the page says to the student, and the pure pieces of its logic (no DOM),
// kept apart so that Node's test runner checks them without a browser.

/** Pencil Code's file names: a title becomes `file:///pencilcode/<title>.coffee`. */
export const URI_PREFIX = 'file:///pencilcode/';

/**
 * The program's title as the student typed it, cleaned to a file stem the server
 * reads back unchanged (`title_of`: the URI's last segment without its extension,
 * percent-decoded). Slashes, dots at the ends and control characters go; an empty
 * title is `untitled`, as the server calls it.
 * @param {string} typed
 */
export function cleanTitle(typed) {
  const title = String(typed)
    .replace(/[\u0000-\u001f\u007f/\\]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^\.+|\.+$/g, '')
    .trim()
    .slice(0, 80);
  return title || 'untitled';
}

/** @param {string} title a cleaned title */
export function uriForTitle(title) {
  return URI_PREFIX + encodeURIComponent(title) + '.coffee';
}

/**
 * The run's verdict in words a 12-year-old understands: a headline, a second
 * sentence, and a tone for the colour of the box.
 * @param {{status: string, diagnostics?: {range: {start: {line: number}}, message: string, severity?: number}[], fixes?: number, drawing?: {truncated?: boolean, ops?: unknown[]}}} result
 * @returns {{tone: 'ok'|'error'|'stopped', headline: string, detail: string}}
 */
export function verdictWords(result) {
  const diagnostics = result.diagnostics || [];
  const first = diagnostics.find((d) => (d.severity ?? 1) === 1) || diagnostics[0];
  const fixes = result.fixes || 0;
  // `fixes` counts the rule-based fixes only; the list beside shows them all.
  const fixLine = fixes > 0 ? '\nThe coach has fixes for you to look at, on the right.' : '';
  const cut = result.drawing && result.drawing.truncated
    ? '\nYour program drew so much that only the first part is shown.'
    : '';
  switch (result.status) {
    case 'ok': {
      const drew = result.drawing && result.drawing.ops && result.drawing.ops.length > 0;
      return {
        tone: 'ok',
        headline: 'It worked! Your program ran to the end.',
        detail: (drew ? 'Look at the drawing.' : 'It did not draw anything this time.') + cut,
      };
    }
    case 'error': {
      const where = first ? `on line ${first.range.start.line + 1}` : 'in your program';
      return {
        tone: 'error',
        headline: `Oops! There is a problem ${where}.`,
        detail: (first ? first.message : 'The coach could not say more about it.') + fixLine + cut,
      };
    }
    case 'timeout':
      return {
        tone: 'stopped',
        headline: 'Your program took too long, so the coach stopped it.',
        detail: 'Is there a loop that never ends?' + cut,
      };
    case 'waits_for_input':
      return {
        tone: 'stopped',
        headline: 'Your program is waiting for someone to type an answer.',
        detail: 'Programs that ask questions cannot finish on this page yet. Everything before the question ran.' + cut,
      };
    default:
      return { tone: 'stopped', headline: 'The coach gave an answer this page does not know.', detail: String(result.status) };
  }
}

/**
 * A hint as the panel shows it: the sentence for the student, without the
 * sender's name (the panel is the coach's) or the model's risk figure, which
 * means nothing to a 12-year-old (the notification carries it apart, as `risk`).
 * @param {string} message
 */
export function hintWords(message) {
  const text = message.replace(/^Pencil coach:\s*/, '').replace(/\s*\(backtracking risk [\d.]+%\)\s*$/, '');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Applies LSP text edits (line/character in UTF-16 units, as JavaScript strings
 * count) to `text`. Edits must not overlap, as LSP requires.
 * @param {string} text
 * @param {{range: {start: {line: number, character: number}, end: {line: number, character: number}}, newText: string}[]} edits
 */
export function applyTextEdits(text, edits) {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  const offset = (/** @type {{line: number, character: number}} */ p) => {
    if (p.line >= starts.length) return text.length;
    const lineEnd = p.line + 1 < starts.length ? starts[p.line + 1] - 1 : text.length;
    return Math.min(starts[p.line] + p.character, lineEnd);
  };
  const spans = edits
    .map((e) => ({ from: offset(e.range.start), to: offset(e.range.end), insert: e.newText }))
    .sort((a, b) => a.from - b.from || a.to - b.to);
  let out = '';
  let at = 0;
  for (const s of spans) {
    if (s.from < at) throw new Error('overlapping edits');
    out += text.slice(at, s.from) + s.insert;
    at = s.to;
  }
  return out + text.slice(at);
}

/**
 * The lines a change touches, for the preview: the first changed line's number
 * (1-based) and the lines before and after, with the lines both share at the top
 * and the bottom left out.
 * @param {string} before
 * @param {string} after
 */
export function changedLines(before, after) {
  const a = before.split('\n');
  const b = after.split('\n');
  let top = 0;
  while (top < a.length && top < b.length && a[top] === b[top]) top++;
  let bottom = 0;
  while (bottom < a.length - top && bottom < b.length - top && a[a.length - 1 - bottom] === b[b.length - 1 - bottom]) bottom++;
  return { line: top + 1, removed: a.slice(top, a.length - bottom), added: b.slice(top, b.length - bottom) };
}

/** @param {number[]} samples */
export function percentile(samples, p) {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((x, y) => x - y);
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}
