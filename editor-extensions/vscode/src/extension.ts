// The Pencil Code coach in VS Code: starts pencil-lsp over stdio for CoffeeScript,
// JavaScript and .pencil files (restarted by RestartPolicy if it dies), and adds
// Run (with the drawing beside the code), Show my trace, hint size, hints in the
// status bar, the student's data commands, the research studies' consent and
// preview (researchCommands.ts) and classroom mode (classroomCommands.ts: join,
// ask my teacher, show class, the reflect-first prompt). Diagnostics, quick fixes and "Fix in my style"
// come from the server through the language client, which shows the server's
// `$/progress` for them and runs each fix's attached command.
import * as vscode from 'vscode';
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { CloseAction, ErrorAction, LanguageClient, LanguageClientOptions, ServerOptions, State, TransportKind } from 'vscode-languageclient/node';
import { findServer } from './serverPath';
import { readSettings, serverOptions } from './settings';
import { describeRun, RunResult } from './runResult';
import { HintGate, HintParams } from './hints';
import { DRAWING_PROTOCOL, protocolVersion, runParams, TraceResult } from './protocol';
import { RestartPolicy } from './restart';
import { DrawingPanel } from './drawingPanel';
import { traceHtml } from './trace';
import { toolError } from './research';
import { registerResearch } from './researchCommands';
import { reflectMiddleware, registerClassroom } from './classroomCommands';

const LANGUAGES = ['coffeescript', 'javascript', 'pencil'];
let client: LanguageClient | undefined;
const restarts = new RestartPolicy();
/** Set between a crash the policy restarts and the new server running. */
let restarting = false;

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
  // TransportKind.stdio makes the client add `--stdio` itself (a second one is refused).
  const server: ServerOptions = { command, args: [], transport: TransportKind.stdio };
  const options: LanguageClientOptions = {
    documentSelector: LANGUAGES.map((language) => ({ scheme: 'file', language })),
    outputChannel: output,
    initializationOptions: serverOptions(settings()),
    middleware: { executeCommand: reflectMiddleware },
    errorHandler: {
      // A broken message is not worth a restart; the connection closing is.
      error: () => ({ action: ErrorAction.Continue }),
      closed: () => {
        if (restarts.onCrash() === 'restart') {
          output.appendLine('pencil-lsp stopped unexpectedly; starting it again.');
          restarting = true;
          return { action: CloseAction.Restart, handled: true };
        }
        restarting = false;
        void vscode.window.showErrorMessage(restarts.giveUpMessage(), 'Show output').then((pick) => {
          if (pick) output.show(true);
        });
        return { action: CloseAction.DoNotRestart, handled: true };
      },
    },
  };
  client = new LanguageClient('pencilCoach', 'Pencil Code coach', server, options);
  client.onDidChangeState((e) => {
    if (e.newState === State.Running) restarting = false;
  });
  try {
    await client.start();
  } catch (e) {
    // The client has logged why; the extension's commands stay usable (Restart).
    void vscode.window.showErrorMessage(`The Pencil coach did not start: ${(e as Error).message}`, 'Show output').then((pick) => {
      if (pick) output.show(true);
    });
    return;
  }
  client.onNotification('pencil/hint', (h: HintParams) => {
    const decision = gate.decide(h);
    if (decision === 'drop') return;
    status.hint.text = '$(lightbulb) Hint';
    status.hint.tooltip = h.message;
    status.hint.show();
    if (decision !== 'notify') return;
    void vscode.window.showInformationMessage(h.message, 'Dismiss').then((pick) => {
      // In a class, the teacher learns (with the next run, without code) that the hint was dismissed.
      if (pick === 'Dismiss' && h.hint_id >= 0 && client?.isRunning()) {
        status.hint.hide();
        client.sendRequest('workspace/executeCommand', { command: 'pencil.dismissHint', arguments: [h.hint_id] }).catch(() => undefined);
      }
    });
  });
}

interface StatusItems {
  run: vscode.StatusBarItem;
  hint: vscode.StatusBarItem;
}

async function run(status: StatusItems, panel: DrawingPanel) {
  const editor = vscode.window.activeTextEditor;
  if (!editor || !LANGUAGES.includes(editor.document.languageId)) {
    void vscode.window.showInformationMessage('Open a Pencil Code program (.coffee, .js or .pencil) to run it.');
    return;
  }
  if (!client) {
    void vscode.window.showErrorMessage('The Pencil coach is not running (see its output).');
    return;
  }
  const c = client;
  if (!(await whenRunning(c, 15_000))) {
    void vscode.window.showErrorMessage('The Pencil coach is not running (see "Pencil Coach: Show the coach\'s output").');
    return;
  }
  const withDrawing = serverProtocol(c) >= DRAWING_PROTOCOL;
  let result: RunResult;
  try {
    result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Running your program' }, () =>
      c.sendRequest<RunResult>('pencil/run', runParams(editor.document.uri.toString(), serverProtocol(c))),
    );
  } catch (e) {
    void vscode.window.showErrorMessage(`The Pencil coach could not run your program: ${(e as Error).message}`);
    return;
  }
  const summary = describeRun(result);
  status.run.text = summary.statusBar;
  status.run.tooltip = summary.message;
  status.run.show();
  if (withDrawing) {
    // The panel says it all in bigger words; a notification would only repeat it.
    panel.show(result, path.basename(editor.document.fileName));
  } else if (summary.problem) void vscode.window.showWarningMessage(summary.message);
  else void vscode.window.showInformationMessage(summary.message);
}

/**
 * Waits for a client that is (re)starting, as after a crash, so a Run pressed
 * meanwhile waits for the new server instead of failing; false if it is stopped
 * for good or not running within `ms`.
 */
function whenRunning(c: LanguageClient, ms: number): Promise<boolean> {
  if (c.state === State.Running) return Promise.resolve(true);
  if (c.state === State.Stopped && !restarting) return Promise.resolve(false);
  const running = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => done(false), ms);
    const sub = c.onDidChangeState((e) => {
      if (e.newState === State.Running) done(true);
    });
    function done(ok: boolean) {
      clearTimeout(timer);
      sub.dispose();
      resolve(ok);
    }
  });
  // "Running" is announced before the client has sent `initialized` and reopened
  // the documents; its start promise settles after that.
  return running.then((ok) => (ok ? c.start().then(() => true, () => false) : false));
}

/** The protocol version the running server announced. */
function serverProtocol(c: LanguageClient): number {
  return protocolVersion(c.initializeResult?.capabilities);
}

let tracePanel: vscode.WebviewPanel | undefined;

/** Show my trace: this title's recorded states as a timeline, each with its diff. */
async function showTrace() {
  const editor = vscode.window.activeTextEditor;
  if (!editor || !LANGUAGES.includes(editor.document.languageId)) {
    void vscode.window.showInformationMessage('Open a Pencil Code program (.coffee, .js or .pencil) to see its trace.');
    return;
  }
  const c = client;
  if (!c) {
    void vscode.window.showErrorMessage('The Pencil coach is not running (see its output).');
    return;
  }
  if (serverProtocol(c) < DRAWING_PROTOCOL) {
    void vscode.window.showInformationMessage('This pencil-lsp is too old to show your trace: update it.');
    return;
  }
  let trace: TraceResult;
  try {
    trace = await c.sendRequest<TraceResult>('pencil/trace', { textDocument: { uri: editor.document.uri.toString() }, limit: 100 });
  } catch (e) {
    void vscode.window.showErrorMessage(`The Pencil coach could not read your trace: ${(e as Error).message}`);
    return;
  }
  if (!tracePanel) {
    // No scripts: the page is plain escaped text and styles.
    tracePanel = vscode.window.createWebviewPanel('pencilCoach.trace', 'My trace', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
      enableScripts: false,
      localResourceRoots: [],
    });
    tracePanel.onDidDispose(() => (tracePanel = undefined));
  } else {
    tracePanel.reveal(undefined, true);
  }
  tracePanel.title = `My trace: ${trace.title}`;
  tracePanel.webview.html = traceHtml(trace, randomBytes(16).toString('base64'));
}

/**
 * Runs `pencil-lsp` with these arguments: stdout as bytes (a research preview is
 * shown byte for byte), stderr as text; a failure rejects with the tool's own
 * words (without a backtrace).
 */
function pencilTool(context: vscode.ExtensionContext, args: string[]): Promise<{ stdout: Buffer; stderr: string }> {
  const command = serverBinary(context);
  if (!command) return Promise.reject(new Error('pencil-lsp was not found'));
  // The scrub looks for `.deps/names` above the working directory when no names folder is set.
  const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.scheme === 'file' ? vscode.workspace.workspaceFolders[0].uri.fsPath : undefined;
  const env = { ...process.env, RUST_BACKTRACE: '0', RUST_LIB_BACKTRACE: '0' };
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 120_000, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, cwd, env }, (error, stdout, stderr) => {
      const err = stderr.toString('utf8');
      if (error) {
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
        reject(new Error(missing ? `pencil-lsp was not found at ${command}` : toolError(err, error.message)));
      } else resolve({ stdout, stderr: err });
    });
  });
}

/** Runs `pencil-lsp data ...` and returns its output (errors become exceptions with the tool's words). */
async function dataTool(context: vscode.ExtensionContext, args: string[]): Promise<string> {
  const dataDir = settings().dataDir;
  const out = await pencilTool(context, ['data', ...args, ...(dataDir ? ['--data-dir', dataDir] : [])]);
  return out.stdout.toString('utf8');
}

export async function activate(context: vscode.ExtensionContext) {
  const started = performance.now();
  const output = vscode.window.createOutputChannel('Pencil Code coach');
  const panel = new DrawingPanel(context.extensionUri);
  const gate = new HintGate(settings().hintsEnabled);
  const status: StatusItems = {
    run: vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 100),
    hint: vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 99),
  };
  status.run.command = 'pencilCoach.run';
  context.subscriptions.push(output, status.run, status.hint, panel);

  context.subscriptions.push(
    vscode.commands.registerCommand('pencilCoach.run', () => run(status, panel)),
    vscode.commands.registerCommand('pencilCoach.trace', () => showTrace()),
    vscode.commands.registerCommand('pencilCoach.showOutput', () => output.show(true)),
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
      restarts.reset();
      await stopClient();
      await startClient(context, output, gate, status);
    }),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (!e.affectsConfiguration('pencilCoach')) return;
      gate.setEnabled(settings().hintsEnabled);
      if (e.affectsConfiguration('pencilCoach.server.path')) {
        await stopClient();
        await startClient(context, output, gate, status);
      } else if (client) {
        await client.sendNotification('workspace/didChangeConfiguration', { settings: serverOptions(settings()) });
      }
    }),
  );
  registerResearch(context, (args) => pencilTool(context, args), () => ({
    dataDir: settings().dataDir,
    namesDir: vscode.workspace.getConfiguration('pencilCoach').get<string | null>('research.namesDir') ?? null,
  }));
  registerClassroom(context, (args) => pencilTool(context, args), () => ({ dataDir: settings().dataDir }), () => client);
  await startClient(context, output, gate, status);
  // The activation time, for the e2e test's figures (no student data in it).
  output.appendLine(`activated in ${Math.round(performance.now() - started)} ms (pencil-lsp protocol ${client ? serverProtocol(client) : 'none'})`);
}

/** Stops the server if it runs (a client that never started, or gave up, is only dropped). */
async function stopClient() {
  const c = client;
  client = undefined;
  if (c?.isRunning()) await c.stop();
}

export async function deactivate() {
  await stopClient();
}
