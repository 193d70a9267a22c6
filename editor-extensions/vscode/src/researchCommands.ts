// The research commands in VS Code: read a study, consent, preview exactly what a
// study would receive, send exactly that, see receipts, withdraw. Each runs
// `pencil-lsp research ...` (argument building and reading in research.ts) and
// shows what it says in read-only documents of the `pencil-research:` scheme.
import * as vscode from 'vscode';
import * as R from './research';

/** Runs `pencil-lsp` with these arguments: stdout as bytes, stderr as text; a failure rejects with the tool's words. */
export type Tool = (args: string[]) => Promise<{ stdout: Buffer; stderr: string }>;

const SCHEME = 'pencil-research';

/** Read-only documents: what pencil-lsp said, in words or as it is (VS Code cannot edit them). */
class ReadOnlyDocs implements vscode.TextDocumentContentProvider {
  private readonly texts = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? '';
  }

  async open(name: string, text: string, language = 'plaintext'): Promise<void> {
    const uri = vscode.Uri.from({ scheme: SCHEME, path: `/${name}` });
    this.texts.set(uri.toString(), text);
    this.changed.fire(uri);
    let doc = await vscode.workspace.openTextDocument(uri);
    if (doc.languageId !== language) doc = await vscode.languages.setTextDocumentLanguage(doc, language);
    await vscode.window.showTextDocument(doc, { preview: true });
  }

  dispose() {
    this.changed.dispose();
  }
}

function fail(e: unknown) {
  void vscode.window.showErrorMessage(`Pencil coach: ${(e as Error).message}`);
}

export function registerResearch(context: vscode.ExtensionContext, tool: Tool, options: () => R.ResearchOptions) {
  const docs = new ReadOnlyDocs();
  const text = async (args: string[]) => (await tool(args)).stdout.toString('utf8');

  const receipts = async () => R.parseReceipts(await text(R.researchArgs.receipts(options())));

  /** The studies `study list` names: the class's offers (in a class) and those kept on this machine. */
  async function listed(): Promise<R.ListedStudy[]> {
    try {
      return R.parseStudyList(await text(R.researchArgs.list(options())));
    } catch (e) {
      // A study can still be read from a file; say why the list is missing.
      void vscode.window.showWarningMessage(`Your studies could not be listed: ${(e as Error).message}`);
      return [];
    }
  }

  /** Asks which study; a file is read (and its signature checked) by `study show FILE`. Returns the study, shown. */
  async function pickStudy(placeHolder: string): Promise<R.StudyInfo | undefined> {
    const list = await listed();
    for (const x of list) {
      if (x.status === 'refused') void vscode.window.showWarningMessage(`The study "${x.id}" is not shown: ${x.refused ?? 'its signature does not verify'}`);
    }
    const pick = await vscode.window.showQuickPick(R.studyPicks(list), { placeHolder, matchOnDescription: true });
    if (!pick) return undefined;
    let target = pick.id;
    if (!target) {
      const files = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'Study document': ['json'] }, openLabel: 'Read this study' });
      if (!files?.[0]) return undefined;
      target = files[0].fsPath;
    }
    return showStudy(target);
  }

  async function showStudy(idOrFile: string): Promise<R.StudyInfo> {
    const study = R.parseStudyShow(await text(R.researchArgs.show(idOrFile, options())));
    await docs.open(`Study ${study.id}.txt`, R.studyText(study));
    return study;
  }

  /** Asks which study with consent in force. */
  async function pickConsented(placeHolder: string): Promise<string | undefined> {
    const live = R.inForce(await receipts());
    if (live.length === 0) {
      void vscode.window.showInformationMessage('You have not consented to any research study, so nothing is collected or sent.');
      return undefined;
    }
    if (live.length === 1) return live[0].study_id;
    const pick = await vscode.window.showQuickPick(
      live.map((r) => ({ label: r.study_id, description: `since ${r.consented_at} UTC` })),
      { placeHolder },
    );
    return pick?.label;
  }

  /** Runs the preview and shows its exact bytes; undefined when there is nothing to send. */
  async function preview(study: string): Promise<Extract<R.Preview, { kind: 'upload' }> | undefined> {
    const out = await tool(R.researchArgs.preview(study, options()));
    const p = R.parsePreview(new Uint8Array(out.stdout.buffer, out.stdout.byteOffset, out.stdout.byteLength), out.stderr);
    if (p.kind === 'nothing') {
      void vscode.window.showInformationMessage(p.message);
      return undefined;
    }
    await docs.open(`What study ${study} would receive (${p.sha256.slice(0, 12)}).json`, p.text, 'json');
    return p;
  }

  const command = (id: string, run: () => Promise<unknown>) =>
    vscode.commands.registerCommand(id, async () => {
      try {
        await run();
      } catch (e) {
        fail(e);
      }
    });

  context.subscriptions.push(
    docs,
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, docs),
    command('pencilCoach.research.studies', () => pickStudy('Which study do you want to read about?')),
    command('pencilCoach.research.consent', async () => {
      const study = await pickStudy('Which study do you want to take part in?');
      if (!study) return;
      if (study.consent) {
        void vscode.window.showInformationMessage(`You already consented to "${study.title}". "My consent receipts" shows when.`);
        return;
      }
      const who = await vscode.window.showQuickPick(R.whoChoices(study.guardianBelowAge), {
        placeHolder: 'Read the study and its consent text (opened beside). Who is giving consent?',
      });
      if (!who) return;
      let age: number | undefined;
      if (R.needsAge(who.by, study.guardianBelowAge)) {
        const typed = await vscode.window.showInputBox({
          prompt: 'How old are you? This only checks the study\'s age rule; your age is not stored.',
          validateInput: (t) => R.ageProblem(t),
        });
        if (typed === undefined) return;
        age = Number(typed.trim());
        const young = R.tooYoung(age, study.guardianBelowAge);
        if (young) {
          void vscode.window.showInformationMessage(young);
          return;
        }
      }
      const sure = await vscode.window.showInformationMessage(R.consentQuestion(study, who.by), { modal: true }, 'I agree');
      if (sure !== 'I agree') {
        void vscode.window.showInformationMessage('No consent was recorded.');
        return;
      }
      const said = (await text(R.researchArgs.consent(study.id, who.by, age, options()))).trim().split('\n');
      // The CLI's last line says where uploads go (the pseudonym, or that there is no class yet).
      void vscode.window.showInformationMessage(
        `Thank you: your consent to "${study.title}" is recorded. Programs you run from now on are kept for it; "My consent receipts" shows your receipt. ${said.length > 2 ? said[said.length - 1] : ''}`.trim(),
      );
    }),
    command('pencilCoach.research.preview', async () => {
      const study = await pickConsented('Preview what which study would receive?');
      if (!study) return;
      const p = await preview(study);
      if (p) void vscode.window.showInformationMessage(R.previewSummary(study, p));
    }),
    command('pencilCoach.research.send', async () => {
      const study = await pickConsented('Send to which study?');
      if (!study) return;
      const p = await preview(study);
      if (!p) return;
      const sure = await vscode.window.showWarningMessage(R.sendQuestion(study, p), { modal: true }, 'Send');
      if (sure !== 'Send') {
        void vscode.window.showInformationMessage('Nothing was sent.');
        return;
      }
      const said = await text(R.researchArgs.upload(study, p.sha256, options()));
      void vscode.window.showInformationMessage(said.trim().split('\n').pop() || 'Sent.');
    }),
    command('pencilCoach.research.receipts', async () => {
      await docs.open('My consent receipts.txt', R.receiptsText(await receipts()));
    }),
    command('pencilCoach.research.revoke', async () => {
      const study = await pickConsented('Withdraw consent from which study?');
      if (!study) return;
      const sure = await vscode.window.showWarningMessage(
        `Withdraw your consent to study "${study}"?\n\nNothing more is collected, anything not yet sent is deleted here, and the study is asked to delete what it has.`,
        { modal: true },
        'Withdraw',
      );
      if (sure !== 'Withdraw') return;
      const said = await text(R.researchArgs.revoke(study, options()));
      void vscode.window.showInformationMessage(said.trim().replace(/\n/g, ' '));
    }),
  );
}
