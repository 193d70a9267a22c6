// Runs inside the drawing panel (a webview): shows each run's words and draws it
// with the shared renderer. Everything it shows arrives by postMessage, as text.
import { renderDrawing } from '../../../drawing/src/render';
import type { RunMessage } from '../panel';

declare function acquireVsCodeApi(): { postMessage(message: unknown): void };

const vscode = acquireVsCodeApi();
const headline = document.getElementById('headline')!;
const error = document.getElementById('error')!;
const notes = document.getElementById('notes')!;
const canvas = document.getElementById('page') as HTMLCanvasElement;

let drawn: RunMessage['drawing'] = null;

function draw(): void {
  if (!drawn) return;
  canvas.style.aspectRatio = `${drawn.width > 0 ? drawn.width : 1280} / ${drawn.height > 0 ? drawn.height : 720}`;
  renderDrawing(canvas, drawn, { turtles: true });
}

function show(m: RunMessage): void {
  headline.textContent = m.view.headline;
  headline.className = m.view.tone;
  error.hidden = !m.view.error;
  error.textContent = m.view.error ? `Line ${m.view.error.line}: ${m.view.error.message}` : '';
  notes.replaceChildren(
    ...m.view.notes.map((n) => {
      const li = document.createElement('li');
      li.textContent = n;
      return li;
    }),
  );
  notes.hidden = m.view.notes.length === 0;
  // Shown before drawing: the renderer sizes the canvas to its on-screen box.
  canvas.hidden = !m.drawing;
  drawn = m.drawing;
  draw();
  document.body.dataset.status = m.view.tone;
  document.body.dataset.seq = String(m.seq);
}

window.addEventListener('message', (e: MessageEvent) => {
  const m = e.data as RunMessage;
  if (m && m.type === 'run') show(m);
});
// The canvas follows the panel's width; redraw at the new size.
new ResizeObserver(() => draw()).observe(canvas);
// The extension holds the last run until the page says it is listening.
vscode.postMessage({ type: 'ready' });
