// Classroom mode in VS Code: join a class (runs `pencil-lsp class join`), ask the
// teacher about the open program (the running server's `pencil.askTeacher`), show
// the class with its policy and the hands with replies, and answer the reflect-
// first code action with an input box (`reflectMiddleware`). The teacher's
// replies arrive from the server as ordinary messages.
import * as vscode from 'vscode';
import type { LanguageClient, Middleware } from 'vscode-languageclient/node';
import * as C from './classroom';
import type { Tool } from './researchCommands';

const LANGUAGES = ['coffeescript', 'javascript', 'pencil'];

function fail(e: unknown) {
  void vscode.window.showErrorMessage(`Pencil coach: ${(e as Error).message}`);
}

/** Answers the reflect code action: asks what the student thinks is wrong, then shows the fixes. */
export const reflectMiddleware: Middleware['executeCommand'] = async (command, args, next) => {
  if (!C.isReflectRequest(command, args)) return next(command, args);
  const text = await vscode.window.showInputBox({
    title: 'Reflect first',
    prompt: 'Your teacher asks: what do you think is wrong? (This stays on your computer.)',
    placeHolder: 'For example: the colour name is misspelled',
    ignoreFocusOut: true,
    validateInput: (t) => C.reflectionProblem(t),
  });
  if (text === undefined) return undefined;
  try {
    const result = await next(command, [args[0], text.trim()]);
    void vscode.window.showInformationMessage(C.commandMessage(result, 'Thank you; the fixes are offered now.'));
    await vscode.commands.executeCommand('editor.action.quickFix');
    return result;
  } catch (e) {
    fail(e);
    return undefined;
  }
};

export function registerClassroom(
  context: vscode.ExtensionContext,
  tool: Tool,
  options: () => C.ClassOptions,
  client: () => LanguageClient | undefined,
) {
  const text = async (args: string[]) => (await tool(args)).stdout.toString('utf8');
  const command = (id: string, run: () => Promise<unknown>) =>
    vscode.commands.registerCommand(id, async () => {
      try {
        await run();
      } catch (e) {
        fail(e);
      }
    });

  context.subscriptions.push(
    command('pencilCoach.class.join', async () => {
      const code = await vscode.window.showInputBox({ title: 'Join a class (1/3)', prompt: 'The join code your teacher gave you', validateInput: C.codeProblem, ignoreFocusOut: true });
      if (code === undefined) return;
      const hub = await vscode.window.showInputBox({ title: 'Join a class (2/3)', prompt: "The class hub's address", placeHolder: 'https://hub.school.example', validateInput: C.hubProblem, ignoreFocusOut: true });
      if (hub === undefined) return;
      const name = await vscode.window.showInputBox({ title: 'Join a class (3/3)', prompt: 'The name your teacher sees (a nickname is fine)', validateInput: C.nameProblem, ignoreFocusOut: true });
      if (name === undefined) return;
      const said = await text(C.classArgs.join(code, hub, name, options()));
      const doc = await vscode.workspace.openTextDocument({ content: said, language: 'plaintext' });
      await vscode.window.showTextDocument(doc, { preview: true });
      void vscode.window.showInformationMessage(said.split('\n').find((l) => l.startsWith('Joined')) ?? 'Joined the class.');
    }),
    command('pencilCoach.class.ask', async () => {
      const editor = vscode.window.activeTextEditor;
      if (!editor || !LANGUAGES.includes(editor.document.languageId)) {
        void vscode.window.showInformationMessage('Open the Pencil Code program you want to ask your teacher about.');
        return;
      }
      const c = client();
      if (!c?.isRunning()) {
        void vscode.window.showErrorMessage('The Pencil coach is not running (see its output).');
        return;
      }
      const message = await vscode.window.showInputBox({
        title: 'Ask my teacher',
        prompt: 'What do you want to ask? (optional) Your program as it is now is sent with it.',
        validateInput: C.messageProblem,
        ignoreFocusOut: true,
      });
      if (message === undefined) return;
      const share = await vscode.window.showQuickPick(
        [
          { label: 'No', description: 'send only the program as it is now', share: false },
          { label: 'Yes', description: 'also send the earlier versions of this program recorded on this computer', share: true },
        ],
        { title: 'Ask my teacher', placeHolder: 'Also send the earlier versions of this program (your trace)?', ignoreFocusOut: true },
      );
      if (!share) return;
      const result = await c.sendRequest('workspace/executeCommand', {
        command: 'pencil.askTeacher',
        arguments: C.askTeacherArgs(editor.document.uri.toString(), message, share.share),
      });
      void vscode.window.showInformationMessage(C.commandMessage(result, 'Your hand is raised.'));
    }),
    command('pencilCoach.class.show', async () => {
      const o = options();
      const show = await text(C.classArgs.show(o));
      const hands = C.notInClass(show) ? undefined : await text(C.classArgs.hands(o));
      const doc = await vscode.workspace.openTextDocument({ content: C.classText(show, hands), language: 'plaintext' });
      await vscode.window.showTextDocument(doc, { preview: true });
    }),
  );
}
