// The drawing panel's page: a strict CSP (only this page's nonce'd script and
// style, no remote anything), and its content arrives only by postMessage.
import type { PanelView } from './runResult';
import type { Drawing } from './protocol';

/** The message the extension posts to the drawing panel after each run. */
export interface RunMessage {
  type: 'run';
  /** Counts runs, so a reader (the e2e test) can tell a fresh answer from the last one. */
  seq: number;
  view: PanelView;
  drawing: Drawing | null;
}

/** The panel's HTML; `scriptUri` is the bundled webview script (dist/runPanel.js). */
export function runPanelHtml(opts: { nonce: string; cspSource: string; scriptUri: string }): string {
  const { nonce, cspSource, scriptUri } = opts;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src ${cspSource} data:; style-src ${cspSource} 'nonce-${nonce}'; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Drawing</title>
<style nonce="${nonce}">
body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); padding: 0.5em 1em; }
#headline { font-size: 1.3em; font-weight: 600; margin: 0.3em 0; }
#headline.good { color: #2e7d32; }
#headline.bad { color: #d32f2f; }
#headline.waiting { color: #b26a00; }
body.vscode-dark #headline.good, body.vscode-high-contrast #headline.good { color: #66bb6a; }
body.vscode-dark #headline.bad, body.vscode-high-contrast #headline.bad { color: #ef5350; }
#error { font-family: var(--vscode-editor-font-family); background: rgba(211, 47, 47, 0.12); border-left: 3px solid #d32f2f; padding: 0.3em 0.6em; margin: 0.3em 0; white-space: pre-wrap; }
#notes { margin: 0.3em 0; padding-left: 1.2em; }
#page { display: block; width: 100%; aspect-ratio: 16 / 9; border: 1px solid var(--vscode-panel-border, #8884); background: #fff; margin-top: 0.5em; }
[hidden] { display: none !important; }
</style></head>
<body>
<p id="headline">Press Run to see what your program draws.</p>
<div id="error" hidden></div>
<ul id="notes" hidden></ul>
<canvas id="page" width="1280" height="720" aria-label="What the turtle drew" hidden></canvas>
<script nonce="${nonce}" src="${scriptUri}"></script>
</body></html>`;
}
