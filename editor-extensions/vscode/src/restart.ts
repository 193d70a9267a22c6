// When pencil-lsp dies: start it again, but not forever. A server that keeps
// crashing (a broken binary, a full disk) would otherwise restart in a loop and
// flood the student with messages; after `max` crashes within `windowMs` the
// extension stops and says how to start it by hand.

export class RestartPolicy {
  private crashes: number[] = [];

  constructor(
    private readonly max = 4,
    private readonly windowMs = 3 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The server's connection closed without being asked to: restart it or give up. */
  onCrash(): 'restart' | 'giveUp' {
    const t = this.now();
    this.crashes = this.crashes.filter((c) => t - c < this.windowMs);
    this.crashes.push(t);
    return this.crashes.length <= this.max ? 'restart' : 'giveUp';
  }

  /** The student restarted the coach by hand: its earlier crashes no longer count. */
  reset(): void {
    this.crashes = [];
  }

  /** What the extension tells the student when it gives up. */
  giveUpMessage(): string {
    return (
      `The Pencil coach stopped ${this.max + 1} times in ${Math.round(this.windowMs / 60_000)} minutes, so it was not started again. ` +
      `Its output says why; "Pencil Coach: Restart the coach" starts it again.`
    );
  }
}
