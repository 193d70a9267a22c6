// Wire types of the coach's custom methods as this extension uses them (the
// server's lsp-server/src/protocol.rs is their definition), and what the server
// announced it speaks.

/** One thing the turtle drew (turtle coordinates: origin at the page centre, y up). */
export type DrawOp =
  | { op: 'line'; color: string; width: number; points: number[] }
  | { op: 'fill'; color: string; points: number[] }
  | { op: 'dot'; x: number; y: number; color: string; diameter: number | null }
  | { op: 'box'; x: number; y: number; color: string; size: number | null; heading: number }
  | { op: 'label'; x: number; y: number; text: string; color: string; size: number; heading: number };

/** What a run drew (protocol v2, `pencil/run` with `"drawing": true`). */
export interface Drawing {
  version: number;
  width: number;
  height: number;
  background: string | null;
  ops: DrawOp[];
  turtles: { x: number; y: number; heading: number; visible: boolean }[];
  truncated: boolean;
}

/** Params of `pencil/trace`. */
export interface TraceParams {
  textDocument: { uri: string };
  limit?: number;
}

/** One recorded program state, with its diff to the one before. */
export interface TraceState {
  id: number;
  n: number;
  time: string;
  /** What recorded it (`run`, `save`); servers may leave it out. */
  trigger?: string;
  /** How many runs of this same program collapsed into the state. */
  runs?: number;
  status: 'ok' | 'error' | 'timeout' | 'waits_for_input' | null;
  code: string;
  diff: string;
}

/** Result of `pencil/trace`: the document's title's states, oldest first. */
export interface TraceResult {
  title: string;
  states: TraceState[];
  truncated: boolean;
}

/** The first protocol version with the drawing and `pencil/trace`. */
export const DRAWING_PROTOCOL = 2;

/**
 * The protocol version the server announced in `initialize`
 * (`capabilities.experimental.pencil.protocolVersion`); 1 when it says nothing,
 * as the first servers did not.
 */
export function protocolVersion(capabilities: unknown): number {
  const pencil = (capabilities as { experimental?: { pencil?: { protocolVersion?: unknown } } } | undefined)?.experimental?.pencil;
  const v = pencil?.protocolVersion;
  return typeof v === 'number' && Number.isFinite(v) ? v : 1;
}

/** `pencil/run` params: ask for the drawing only from servers that know it. */
export function runParams(uri: string, serverProtocol: number): { textDocument: { uri: string }; drawing?: true } {
  return serverProtocol >= DRAWING_PROTOCOL ? { textDocument: { uri }, drawing: true } : { textDocument: { uri } };
}
