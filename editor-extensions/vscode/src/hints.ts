// The coach's hints (pencil/hint): in the status bar always, as a notification at
// most once per hint, never as a modal while the student types.

export interface HintParams {
  textDocument: { uri: string };
  message: string;
  risk: number;
  hint_id: number;
}

/** Decides what to do with each incoming hint. */
export class HintGate {
  private readonly notified = new Set<number>();

  constructor(private enabled: boolean) {}

  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
  }

  /** `notify`: show a notification now; `statusOnly`: only the status bar; `drop`: hints are off. */
  decide(h: HintParams): 'notify' | 'statusOnly' | 'drop' {
    if (!this.enabled) return 'drop';
    if (this.notified.has(h.hint_id)) return 'statusOnly';
    this.notified.add(h.hint_id);
    return 'notify';
  }
}
