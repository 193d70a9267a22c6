// The drawing panel beside the code: one per window, reused by every run, kept
// alive while hidden so the picture stays.
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import { runPanelHtml, RunMessage } from './panel';
import { panelView, RunResult } from './runResult';

export class DrawingPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private last: RunMessage | undefined;
  private seq = 0;

  constructor(private readonly extensionUri: vscode.Uri) {}

  /** Shows a run's answer, opening the panel beside the code the first time. */
  show(result: RunResult, fileName: string): void {
    this.last = { type: 'run', seq: ++this.seq, view: panelView(result, fileName), drawing: result.drawing ?? null };
    if (!this.panel) {
      this.panel = this.create();
    } else if (!this.panel.visible) {
      this.panel.reveal(undefined, true);
    }
    this.panel.title = `Drawing: ${fileName}`;
    void this.panel.webview.postMessage(this.last);
  }

  private create(): vscode.WebviewPanel {
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist');
    const panel = vscode.window.createWebviewPanel(
      'pencilCoach.drawing',
      'Drawing',
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { enableScripts: true, retainContextWhenHidden: true, localResourceRoots: [dist] },
    );
    const nonce = randomBytes(16).toString('base64');
    panel.webview.html = runPanelHtml({
      nonce,
      cspSource: panel.webview.cspSource,
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(dist, 'runPanel.js')).toString(),
    });
    // A message posted before the page listens is lost: the page says when it is
    // ready (also after VS Code reloads it) and gets the latest run then.
    panel.webview.onDidReceiveMessage((m: { type?: string }) => {
      if (m?.type === 'ready' && this.last) void panel.webview.postMessage(this.last);
    });
    panel.onDidDispose(() => {
      if (this.panel === panel) this.panel = undefined;
    });
    return panel;
  }

  dispose(): void {
    this.panel?.dispose();
  }
}
