// The Pencil Code coach in VS Code: starts pencil-lsp over stdio for CoffeeScript,
// JavaScript and .pencil files (vscode-languageclient restarts it if it dies),
// and adds Run, hint size, hints in the status bar, and the student's data commands.
// Diagnostics, quick fixes and "Fix in my style" (with progress) come from the
// server through the language client.
import * as vscode from 'vscode';
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import * as path from 'node:path';
import { LanguageClient, LanguageClientOptions, ServerOptions, TransportKind } from 'vscode-languageclient/node';
import { findServer } from './serverPath';
import { readSettings, serverOptions } from './settings';
import { describeRun, RunResult } from './runResult';
import { HintGate, HintParams } from './hints';

const LANGUAGES = ['coffeescript', 'javascript', 'pencil'];
let client: LanguageClient | undefined;

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function settings() {
  const config = vscode.workspace.getConfiguration('pencilCoach');
  return readSettings((key) => config.get(key));
}

function serverBinary(context: vscode.ExtensionContext): string | undefined {
  const found = findServer({
    setting: vscode.workspace.getConfiguration('pencilCoach').get<string | null>('server.path'),
    pathEnv: process.env.PATH,
    platform: process.platform,
    extensionDir: context.extensionPath,
    isExecutable,
  });
  if ('error' in found) {
    void vscode.window.showErrorMessage(found.error);
    return undefined;
  }
  return found.path;
}

async function startClient(context: vscode.ExtensionContext, output: vscode.OutputChannel, gate: HintGate, status: StatusItems) {
  const command = serverBinary(context);
  if (!command) return;
  const server: ServerOptions = { command, args: ['--stdio'], transport: TransportKind.stdio };
  const options: LanguageClientOptions = {
    documentSelector: LANGUAGES.map((language) => ({ scheme: 'file', language })),
    outputChannel: output,
    initializationOptions: serverOptions(settings()),
  };
  client = new LanguageClient('pencilCoach', 'Pencil Code coach', server, options);
  await client.start();
  client.onNotification('pencil/hint', (h: HintParams) => {
    const decision = gate.decide(h);
    if (decision === 'drop') return;
    status.hint.text = '$(lightbulb) Hint';
    status.hint.tooltip = h.message;
    status.hint.show();
    if (decision === 'notify') void vscode.window.showInformationMessage(h.message);
  });
}

interface StatusItems {
  run: vscode.StatusBarItem;
  hint: vscode.StatusBarItem;
}

async function run(status: StatusItems) {
  const editor = vscode.window.activeTextEditor;
  if (!editor || !LANGUAGES.includes(editor.document.languageId)) {
    void vscode.window.showInformationMessage('Open a Pencil Code program (.coffee, .js or .pencil) to run it.');
    return;
  }
  if (!client) {
    void vscode.window.showErrorMessage('The Pencil coach is not running (see its output).');
    return;
  }
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: 'Running your program' },
    () => client!.sendRequest<RunResult>('pencil/run', { textDocument: { uri: editor.document.uri.toString() } }),
  );
  const summary = describeRun(result);
  status.run.text = summary.statusBar;
  status.run.tooltip = summary.message;
  status.run.show();
  if (summary.problem) void vscode.window.showWarningMessage(summary.message);
  else void vscode.window.showInformationMessage(summary.message);
}

/** Runs `pencil-lsp data ...` and returns its output (errors become exceptions with the tool's words). */
function dataTool(context: vscode.ExtensionContext, args: string[]): Promise<string> {
  const command = serverBinary(context);
  if (!command) return Promise.reject(new Error('pencil-lsp was not found'));
  const dataDir = settings().dataDir;
  const full = ['data', ...args, ...(dataDir ? ['--data-dir', dataDir] : [])];
  return new Promise((resolve, reject) => {
    execFile(command, full, { timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(stderr.trim() || error.message));
      else resolve(stdout);
    });
  });
}

export async function activate(context: vscode.ExtensionContext) {
  const output = vscode.window.createOutputChannel('Pencil Code coach');
  const gate = new HintGate(settings().hintsEnabled);
  const status: StatusItems = {
    run: vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 100),
    hint: vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 99),
  };
  status.run.command = 'pencilCoach.run';
  context.subscriptions.push(output, status.run, status.hint);

  context.subscriptions.push(
    vscode.commands.registerCommand('pencilCoach.run', () => run(status)),
    vscode.commands.registerCommand('pencilCoach.hintSize', async () => {
      const pick = await vscode.window.showQuickPick(
        [
          { label: 'small', description: 'a small next step' },
          { label: 'medium', description: 'a bigger step' },
          { label: 'large', description: 'most of the way' },
        ],
        { placeHolder: `How big a change should "Fix in my style" suggest? (now: ${settings().hintSize})` },
      );
      if (pick) await vscode.workspace.getConfiguration('pencilCoach').update('hints.size', pick.label, vscode.ConfigurationTarget.Global);
    }),
    vscode.commands.registerCommand('pencilCoach.data.show', async () => {
      try {
        const text = await dataTool(context, ['show']);
        const doc = await vscode.workspace.openTextDocument({ content: text, language: 'plaintext' });
        await vscode.window.showTextDocument(doc, { preview: true });
      } catch (e) {
        void vscode.window.showErrorMessage(`Pencil coach: ${(e as Error).message}`);
      }
    }),
    vscode.commands.registerCommand('pencilCoach.data.export', async () => {
      const target = await vscode.window.showSaveDialog({ filters: { 'JSON Lines': ['jsonl', 'gz'] }, saveLabel: 'Export my data' });
      if (!target) return;
      try {
        void vscode.window.showInformationMessage((await dataTool(context, ['export', '--out', target.fsPath])).trim());
      } catch (e) {
        void vscode.window.showErrorMessage(`Pencil coach: ${(e as Error).message}`);
      }
    }),
    vscode.commands.registerCommand('pencilCoach.data.delete', async () => {
      const editor = vscode.window.activeTextEditor;
      const title = editor ? path.parse(editor.document.fileName).name : undefined;
      const choices = [...(title ? [{ label: `Only "${title}"`, args: ['--title', title] }] : []), { label: 'Everything', args: ['--all'] }];
      const pick = await vscode.window.showQuickPick(choices, { placeHolder: 'Delete which of your recorded programs?' });
      if (!pick) return;
      const sure = await vscode.window.showWarningMessage(
        `Delete ${pick.label === 'Everything' ? 'all your recorded programs' : `your recorded programs of "${title}"`} for good?`,
        { modal: true },
        'Delete',
      );
      if (sure !== 'Delete') return;
      try {
        void vscode.window.showInformationMessage((await dataTool(context, ['delete', ...pick.args, '--yes'])).trim());
      } catch (e) {
        void vscode.window.showErrorMessage(`Pencil coach: ${(e as Error).message}`);
      }
    }),
    vscode.commands.registerCommand('pencilCoach.restartServer', async () => {
      await client?.stop();
      await startClient(context, output, gate, status);
    }),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (!e.affectsConfiguration('pencilCoach')) return;
      gate.setEnabled(settings().hintsEnabled);
      if (e.affectsConfiguration('pencilCoach.server.path')) {
        await client?.stop();
        await startClient(context, output, gate, status);
      } else if (client) {
        await client.sendNotification('workspace/didChangeConfiguration', { settings: serverOptions(settings()) });
      }
    }),
  );
  await startClient(context, output, gate, status);
}

export async function deactivate() {
  await client?.stop();
}
