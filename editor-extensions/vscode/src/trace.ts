// "Show my trace": the states of a title as a timeline, each with its diff to the
// one before. Builds the page as escaped text only; it carries no script at all.
import type { TraceResult, TraceState } from './protocol';

export interface DiffLine {
  kind: 'add' | 'del' | 'ctx' | 'hunk';
  text: string;
}

/** Splits a unified line diff into lines to colour (headers before the first hunk dropped). */
export function diffLines(diff: string): DiffLine[] {
  const out: DiffLine[] = [];
  let inHunk = false;
  const lines = diff.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  for (const line of lines) {
    if (line.startsWith('@@')) {
      inHunk = true;
      out.push({ kind: 'hunk', text: line });
    } else if (!inHunk) {
      continue; // `---`/`+++` file headers, if a server sends them
    } else if (line.startsWith('+')) {
      out.push({ kind: 'add', text: line.slice(1) });
    } else if (line.startsWith('-')) {
      out.push({ kind: 'del', text: line.slice(1) });
    } else if (line.startsWith('\\')) {
      continue; // "\ No newline at end of file"
    } else {
      out.push({ kind: 'ctx', text: line.startsWith(' ') ? line.slice(1) : line });
    }
  }
  return out;
}

/** Text made safe to put inside HTML elements and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A state's status in a student's words. */
export function statusWords(status: TraceState['status']): { text: string; tone: 'good' | 'bad' | 'waiting' | 'none' } {
  switch (status) {
    case 'ok':
      return { text: 'worked', tone: 'good' };
    case 'error':
      return { text: 'error', tone: 'bad' };
    case 'timeout':
      return { text: 'too slow', tone: 'bad' };
    case 'waits_for_input':
      return { text: 'waiting for input', tone: 'waiting' };
    default:
      return { text: 'not checked', tone: 'none' };
  }
}

/** `@@ -3,2 +3,4 @@` as "at line 3" (the line in the newer version). */
export function hunkWords(header: string): string {
  const m = /^@@ -\d+(?:,\d+)? \+(\d+)/.exec(header);
  return m ? `at line ${Math.max(1, Number(m[1]))}:` : header;
}

/** How the state came to be recorded, from the fields the server sent. */
function howWords(s: TraceState): string {
  const how = s.trigger === 'run' ? 'you pressed Run' : s.trigger === 'save' ? 'you saved' : s.trigger ? escapeHtml(s.trigger) : '';
  const times = s.runs && s.runs > 1 ? `ran ${s.runs} times` : '';
  return [how, times].filter(Boolean).join(', ');
}

function stateHtml(s: TraceState, first: boolean): string {
  const st = statusWords(s.status);
  const lines: DiffLine[] = first
    ? s.code.replace(/\n$/, '').split('\n').map((text) => ({ kind: 'add' as const, text }))
    : diffLines(s.diff);
  const body =
    lines.length === 0
      ? '<p class="same">No change from the one before.</p>'
      : // Each line is a block span: newlines between them would double the spacing.
        `<pre class="diff">${lines
          .map((l) => {
            if (l.kind === 'hunk') return `<span class="hunk">${escapeHtml(hunkWords(l.text))}</span>`;
            const mark = l.kind === 'add' ? '+' : l.kind === 'del' ? '-' : ' ';
            const label = l.kind === 'add' ? 'added' : l.kind === 'del' ? 'removed' : 'same';
            return `<span class="${l.kind}" title="${label}">${mark}${escapeHtml(l.text)}</span>`;
          })
          .join('')}</pre>`;
  return (
    `<li class="state">` +
    `<div class="head"><span class="n">#${s.n}</span> <span class="time">${escapeHtml(s.time)}</span> ` +
    `<span class="status ${st.tone}">${st.text}</span> <span class="trigger">${howWords(s)}</span></div>` +
    (first ? '<p class="first">The first version the coach saw:</p>' : '') +
    body +
    `</li>`
  );
}

/** The whole timeline page; CSP allows only the nonce'd inline style, nothing else. */
export function traceHtml(t: TraceResult, nonce: string): string {
  const items = t.states.map((s, i) => stateHtml(s, i === 0)).join('\n');
  const empty = t.states.length === 0 ? '<p>No versions of this program were recorded yet. Press Run to record one.</p>' : '';
  const cut = t.truncated ? '<p class="cut">Only the latest versions are shown.</p>' : '';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>My trace</title>
<style nonce="${nonce}">
body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); padding: 0 1em; }
ol { list-style: none; padding: 0; }
.state { border-left: 3px solid var(--vscode-textLink-foreground); margin: 0 0 1em 0; padding: 0.2em 0 0.2em 0.8em; }
.head { font-weight: 600; }
.n { opacity: 0.7; }
.time, .trigger { font-weight: normal; opacity: 0.8; }
.status { padding: 0 0.4em; border-radius: 3px; }
.status.good { background: #2e7d32; color: #fff; }
.status.bad { background: #c62828; color: #fff; }
.status.waiting { background: #f9a825; color: #000; }
.diff { font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size); margin: 0.3em 0; white-space: pre-wrap; }
.diff span { display: block; }
.add { background: rgba(46, 160, 67, 0.25); }
.del { background: rgba(248, 81, 73, 0.25); text-decoration: line-through; text-decoration-color: rgba(248, 81, 73, 0.6); }
.hunk { opacity: 0.6; }
.ctx { opacity: 0.75; }
</style></head>
<body>
<h2>${escapeHtml(t.title)}: every version you ran</h2>
<p>Oldest first. <span class="add">Green lines</span> were added, <span class="del">red lines</span> were taken away.</p>
${cut}${empty}<ol>
${items}
</ol>
</body></html>`;
}
