// Draws the turtle drawing that `pencil/run` returns (protocol v2, drawing
// version 1) on an HTML canvas, the way jquery-turtle 2.0.9 draws on its own
// page canvas, so that the student sees in the editor what Pencil Code shows.
// Shared by the VS Code webview and the browser editor page; no dependencies.

/** One drawing operation, in turtle coordinates (origin at the page centre, y up). */
export type DrawingOp =
  | { op: 'line'; color: string; width: number; points: number[] }
  | { op: 'fill'; color: string; points: number[] }
  | { op: 'dot'; x: number; y: number; color: string; diameter: number | null }
  | { op: 'box'; x: number; y: number; color: string; size: number | null; heading: number }
  | { op: 'label'; x: number; y: number; text: string; color: string; size: number; heading: number };

/** Where a turtle ended: heading in degrees, 0 = north, clockwise positive. */
export interface TurtleEnd {
  x: number;
  y: number;
  heading: number;
  visible: boolean;
}

export interface Drawing {
  version: number;
  width: number;
  height: number;
  background: string | null;
  ops: DrawingOp[];
  turtles: TurtleEnd[];
  truncated: boolean;
}

export interface RenderOptions {
  /** Draw the turtles where they ended (default true). */
  turtles?: boolean;
  /** 'page' (default): the whole page scaled to the canvas; 'content': what was drawn, with a margin. */
  fit?: 'page' | 'content';
  /** Page colour; default the drawing's background, else white. */
  background?: string;
}

/** Axis-aligned box in turtle coordinates (y up). */
export interface Bounds {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

/** Maps turtle (x, y) to canvas CSS pixels: (offsetX + x * scale, offsetY - y * scale). */
export interface Transform {
  scale: number;
  offsetX: number;
  offsetY: number;
}

export interface RenderResult {
  /** CSS pixels per page pixel. */
  scale: number;
  /** What was drawn, in turtle coordinates; null when nothing was. */
  bounds: Bounds | null;
}

/** jquery-turtle's pen width when the program gives none. */
export const DEFAULT_PEN_WIDTH = 1.62;
/** jquery-turtle's dot and box size when the program gives none. */
export const DEFAULT_DOT_DIAMETER = 8.8;
/** Chromium's default page font size, which jquery-turtle labels inherit. */
export const DEFAULT_LABEL_SIZE = 16;
/** Margin around the content in 'content' fit, in CSS pixels. */
export const CONTENT_MARGIN = 12;
/**
 * Smallest content box side (page px) that 'content' fit zooms to, so that a
 * single dot is not blown up to fill the editor.
 */
export const MIN_CONTENT_SIDE = 60;

/** The whole page, in turtle coordinates. */
export function pageBounds(width: number, height: number): Bounds {
  return { minX: -width / 2, minY: -height / 2, maxX: width / 2, maxY: height / 2 };
}

function isErase(color: string): boolean {
  return /^erase\b/.test(String(color).trim());
}

// Rough text box for bounds: labels are measured by the browser only when
// drawn, and bounds must stay computable without a canvas.
function labelHalfExtent(op: { text: string; size: number }): number {
  const size = op.size > 0 ? op.size : DEFAULT_LABEL_SIZE;
  const chars = collapseWhitespace(op.text).length;
  return Math.max(size * 0.6, (chars * size * 0.55) / 2);
}

/**
 * The extent of what was drawn (strokes include half their width; dots,
 * boxes and labels their size); null for a drawing with no visible op.
 * Page-filling dots and boxes make it the whole page. Turtles are not counted.
 */
export function boundsOf(drawing: Drawing): Bounds | null {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  const add = (x: number, y: number, r: number) => {
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    minX = Math.min(minX, x - r);
    maxX = Math.max(maxX, x + r);
    minY = Math.min(minY, y - r);
    maxY = Math.max(maxY, y + r);
  };
  const page = pageBounds(drawing.width, drawing.height);
  for (const op of drawing.ops) {
    switch (op.op) {
      case 'line': {
        if (op.points.length < 4) break;
        const r = (op.width > 0 ? op.width : DEFAULT_PEN_WIDTH) / 2;
        for (let i = 0; i + 1 < op.points.length; i += 2) add(op.points[i], op.points[i + 1], r);
        break;
      }
      case 'fill':
        if (op.points.length < 6) break;
        for (let i = 0; i + 1 < op.points.length; i += 2) add(op.points[i], op.points[i + 1], 0);
        break;
      case 'dot':
        if (op.diameter == null || !Number.isFinite(op.diameter)) {
          add(page.minX, page.minY, 0);
          add(page.maxX, page.maxY, 0);
        } else {
          add(op.x, op.y, Math.abs(op.diameter) / 2);
        }
        break;
      case 'box':
        if (op.size == null || !Number.isFinite(op.size)) {
          add(page.minX, page.minY, 0);
          add(page.maxX, page.maxY, 0);
        } else {
          // Half the diagonal covers every rotation.
          add(op.x, op.y, (Math.abs(op.size) * Math.SQRT2) / 2);
        }
        break;
      case 'label':
        if (collapseWhitespace(op.text) === '') break;
        add(op.x, op.y, labelHalfExtent(op));
        break;
    }
  }
  if (minX > maxX) return null;
  return { minX, minY, maxX, maxY };
}

/**
 * The turtle-to-canvas mapping for a canvas of cssWidth × cssHeight pixels.
 * 'page': the whole page, aspect kept, centred. 'content': `bounds` (or the
 * page when null) grown to at least MIN_CONTENT_SIDE per side, with `margin`
 * CSS pixels around it.
 */
export function pageTransform(
  pageWidth: number,
  pageHeight: number,
  cssWidth: number,
  cssHeight: number,
  fit: 'page' | 'content' = 'page',
  bounds: Bounds | null = null,
  margin: number = CONTENT_MARGIN,
): Transform {
  let box = pageBounds(pageWidth, pageHeight);
  let pad = 0;
  if (fit === 'content' && bounds) {
    box = { ...bounds };
    for (const [lo, hi] of [['minX', 'maxX'], ['minY', 'maxY']] as const) {
      const side = box[hi] - box[lo];
      if (side < MIN_CONTENT_SIDE) {
        const mid = (box[hi] + box[lo]) / 2;
        box[lo] = mid - MIN_CONTENT_SIDE / 2;
        box[hi] = mid + MIN_CONTENT_SIDE / 2;
      }
    }
    pad = Math.max(0, Math.min(margin, cssWidth / 4, cssHeight / 4));
  }
  const bw = box.maxX - box.minX;
  const bh = box.maxY - box.minY;
  const sx = (cssWidth - 2 * pad) / bw;
  const sy = (cssHeight - 2 * pad) / bh;
  const scale = Math.max(0, Math.min(sx, sy));
  const cx = (box.minX + box.maxX) / 2;
  const cy = (box.minY + box.maxY) / 2;
  return {
    scale,
    offsetX: cssWidth / 2 - cx * scale,
    offsetY: cssHeight / 2 + cy * scale,
  };
}

/** Corners of jquery-turtle's `fillBox` square, in page coordinates (y down). */
export function boxCorners(px: number, py: number, size: number, headingDeg: number): number[] {
  const a = ((headingDeg + 45) / 180) * Math.PI;
  const hdx = (size * Math.cos(a)) / Math.SQRT2;
  const hdy = (size * Math.sin(a)) / Math.SQRT2;
  return [px - hdx, py - hdy, px - hdy, py + hdx, px + hdx, py + hdy, px + hdy, py - hdx];
}

function collapseWhitespace(text: string): string {
  // A label is HTML: runs of whitespace show as one space, and tags show as
  // their text (the server sends the text; strip any markup left in it).
  return String(text).replace(/<[^>]*>/g, '').replace(/\s+/g, ' ').trim();
}

/**
 * The point ranges [from, to) that jquery-turtle strokes for a pen path of n
 * points drawn by instant moves: after each move the last three points, then
 * the last two again.
 */
export function strokeWindows(n: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 1; i < n; i++) {
    out.push([Math.max(0, i - 2), i + 1]);
    out.push([i - 1, i + 1]);
  }
  return out;
}

// jquery-turtle's isPointNearby: the same pixel after rounding.
function nearby(ax: number, ay: number, bx: number, by: number): boolean {
  return Math.round(ax - bx) === 0 && Math.round(ay - by) === 0;
}

type Ctx = CanvasRenderingContext2D;

// jquery-turtle sets an unparsable color with `ctx.strokeStyle = x`, which the
// canvas ignores, keeping the previous style; a fresh context starts black.
function setPaint(ctx: Ctx, color: string, prop: 'strokeStyle' | 'fillStyle') {
  if (isErase(color)) {
    ctx.globalCompositeOperation = 'destination-out';
    ctx[prop] = 'white';
  } else {
    ctx.globalCompositeOperation = 'source-over';
    ctx[prop] = 'black';
    ctx[prop] = color;
  }
}

// One stroke of jquery-turtle's drawAndClearPath over page points (y down).
function strokeWindow(ctx: Ctx, pts: number[], from: number, to: number) {
  const n = to - from;
  if (n < 2) return;
  const x0 = pts[2 * from];
  const y0 = pts[2 * from + 1];
  const xl = pts[2 * (to - 1)];
  const yl = pts[2 * (to - 1) + 1];
  const mid = from + Math.floor(n / 2);
  const closed = n > 2 && nearby(x0, y0, xl, yl) && !nearby(x0, y0, pts[2 * mid], pts[2 * mid + 1]);
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  for (let k = from + 1; k < to - (closed ? 1 : 0); k++) ctx.lineTo(pts[2 * k], pts[2 * k + 1]);
  if (closed) ctx.closePath();
  ctx.stroke();
}

function toPage(points: number[], w: number, h: number): number[] {
  // jquery-turtle's origin sits at floor(page/2) pixels from the top-left.
  const ox = Math.floor(w / 2);
  const oy = Math.floor(h / 2);
  const out = new Array<number>(points.length - (points.length % 2));
  for (let i = 0; i + 1 < points.length; i += 2) {
    out[i] = ox + points[i];
    out[i + 1] = oy - points[i + 1];
  }
  return out;
}

function drawOp(ctx: Ctx, op: DrawingOp, w: number, h: number, pageRect: () => void) {
  const ox = Math.floor(w / 2);
  const oy = Math.floor(h / 2);
  ctx.save();
  switch (op.op) {
    case 'line': {
      const pts = toPage(op.points, w, h);
      const width = Number.isFinite(op.width) && op.width >= 0 ? op.width : DEFAULT_PEN_WIDTH;
      setPaint(ctx, op.color, 'strokeStyle');
      // Erasing strokes are one pixel wider so no antialiased rim is left.
      ctx.lineWidth = width + (isErase(op.color) ? 1 : 0);
      ctx.lineCap = 'round';
      ctx.lineJoin = 'round';
      // After each instant move jquery-turtle strokes the last three points
      // of the pen's path (two kept from before plus the new one), then, at
      // the move's end, the last two again: a segment is stroked three times
      // (the last one twice), which darkens antialiased edges and translucent
      // colours. Each point here stands for one move.
      for (const [from, to] of strokeWindows(pts.length / 2)) strokeWindow(ctx, pts, from, to);
      break;
    }
    case 'fill': {
      const pts = toPage(op.points, w, h);
      const n = pts.length / 2;
      if (n < 2) break;
      setPaint(ctx, op.color, 'fillStyle');
      const closed = n > 2 && nearby(pts[0], pts[1], pts[2 * n - 2], pts[2 * n - 1]);
      ctx.beginPath();
      ctx.moveTo(pts[0], pts[1]);
      for (let k = 1; k < n - (closed ? 1 : 0); k++) ctx.lineTo(pts[2 * k], pts[2 * k + 1]);
      ctx.closePath();
      ctx.fill('nonzero');
      break;
    }
    case 'dot': {
      setPaint(ctx, op.color, 'fillStyle');
      if (op.diameter == null || op.diameter === Infinity) {
        pageRect();
        ctx.fill();
        break;
      }
      if (!Number.isFinite(op.diameter)) break;
      // Erasing dots are 2 px wider, as in jquery-turtle's animatedDotCommand.
      const d = op.diameter + (isErase(op.color) ? 2 : 0);
      ctx.beginPath();
      ctx.arc(ox + op.x, oy - op.y, Math.abs(d) / 2, 0, 2 * Math.PI, false);
      ctx.closePath();
      ctx.fill();
      break;
    }
    case 'box': {
      setPaint(ctx, op.color, 'fillStyle');
      if (op.size == null || op.size === Infinity) {
        pageRect();
        ctx.fill();
        break;
      }
      if (!Number.isFinite(op.size)) break;
      const s = op.size + (isErase(op.color) ? 2 : 0);
      const c = boxCorners(ox + op.x, oy - op.y, s, op.heading || 0);
      ctx.beginPath();
      ctx.moveTo(c[0], c[1]);
      for (let k = 2; k < 8; k += 2) ctx.lineTo(c[k], c[k + 1]);
      ctx.closePath();
      ctx.fill();
      break;
    }
    case 'label': {
      const text = collapseWhitespace(op.text);
      if (!text) break;
      const size = op.size > 0 ? op.size : DEFAULT_LABEL_SIZE;
      ctx.globalCompositeOperation = 'source-over';
      ctx.fillStyle = 'black';
      ctx.fillStyle = op.color || 'black';
      // The label is an HTML element in the page's default font, centred on
      // the turtle and turned with it ('rotated scaled' is the default side).
      ctx.font = `${size}px serif`;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'alphabetic';
      ctx.translate(ox + op.x, oy - op.y);
      ctx.rotate(((op.heading || 0) * Math.PI) / 180);
      // The HTML line box is the font's ascent plus descent tall and its
      // centre sits on the turtle, so the baseline is half their difference
      // below the turtle; Chromium lays the baseline on a whole pixel.
      const m = ctx.measureText(text);
      const ascent = m.fontBoundingBoxAscent ?? size * 0.89;
      const descent = m.fontBoundingBoxDescent ?? size * 0.22;
      ctx.fillText(text, 0, Math.floor((ascent - descent) / 2));
      break;
    }
  }
  ctx.restore();
}

function drawTurtle(ctx: Ctx, t: TurtleEnd, w: number, h: number, unit: number) {
  // A green turtle: shell, head towards the heading, four feet; `unit` keeps
  // it readable when the page is scaled down.
  ctx.save();
  ctx.translate(Math.floor(w / 2) + t.x, Math.floor(h / 2) - t.y);
  ctx.rotate(((t.heading || 0) * Math.PI) / 180);
  ctx.scale(unit, unit);
  ctx.globalCompositeOperation = 'source-over';
  ctx.fillStyle = '#2e9e3e';
  ctx.strokeStyle = '#155d22';
  ctx.lineWidth = 1;
  for (const [fx, fy] of [[-6, -5], [6, -5], [-6, 6], [6, 6]]) {
    ctx.beginPath();
    ctx.arc(fx, fy, 2.4, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.beginPath();
  ctx.arc(0, -11, 3, 0, 2 * Math.PI);
  ctx.fill();
  ctx.beginPath();
  // The shell is a rounded triangle pointing at the heading.
  ctx.moveTo(0, -9);
  ctx.lineTo(7, 7);
  ctx.lineTo(-7, 7);
  ctx.closePath();
  ctx.fill();
  ctx.stroke();
  ctx.restore();
}

function makeLayer(canvas: HTMLCanvasElement): HTMLCanvasElement {
  const doc = canvas.ownerDocument || (globalThis as any).document;
  const layer = doc.createElement('canvas') as HTMLCanvasElement;
  layer.width = canvas.width;
  layer.height = canvas.height;
  return layer;
}

/**
 * Draws `drawing` on `canvas`, sized to its CSS box at devicePixelRatio.
 * Ops go on an offscreen layer (so `pen erase` clears drawn pixels and not
 * the page colour), which is then laid over the background.
 */
export function renderDrawing(
  canvas: HTMLCanvasElement,
  drawing: Drawing,
  options: RenderOptions = {},
): RenderResult {
  const win = (canvas.ownerDocument && canvas.ownerDocument.defaultView) || (globalThis as any);
  const dpr = Math.max(1, Number(win.devicePixelRatio) || 1);
  // The content box (without a CSS border), which is what the backing store fills.
  const rect = canvas.getBoundingClientRect();
  const cssW = canvas.clientWidth || rect.width || canvas.width || drawing.width;
  const cssH = canvas.clientHeight || rect.height || canvas.height || drawing.height;
  canvas.width = Math.max(1, Math.round(cssW * dpr));
  canvas.height = Math.max(1, Math.round(cssH * dpr));

  const w = drawing.width > 0 ? drawing.width : 1280;
  const h = drawing.height > 0 ? drawing.height : 720;
  const bounds = boundsOf(drawing);
  const fit = options.fit === 'content' ? 'content' : 'page';
  const t = pageTransform(w, h, cssW, cssH, fit, bounds);

  const ctx = canvas.getContext('2d') as Ctx;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.globalCompositeOperation = 'source-over';
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = 'white';
  ctx.fillStyle = options.background ?? drawing.background ?? 'white';
  ctx.fillRect(0, 0, canvas.width, canvas.height);

  // Page pixels (origin top-left, y down) to device pixels.
  const k = t.scale * dpr;
  const ex = (t.offsetX - Math.floor(w / 2) * t.scale) * dpr;
  const ey = (t.offsetY - Math.floor(h / 2) * t.scale) * dpr;
  const layer = makeLayer(canvas);
  const lctx = layer.getContext('2d') as Ctx;
  lctx.setTransform(k, 0, 0, k, ex, ey);
  if (fit === 'page') {
    // Nothing outside the page shows on the real page either.
    lctx.beginPath();
    lctx.rect(0, 0, w, h);
    lctx.clip();
  }
  // `dot color, Infinity` fills jquery-turtle's whole canvas: here the page,
  // or in 'content' fit everything visible.
  const pageRect = () => {
    lctx.beginPath();
    if (fit === 'page') lctx.rect(0, 0, w, h);
    else lctx.rect(-ex / k, -ey / k, layer.width / k, layer.height / k);
  };
  for (const op of drawing.ops) drawOp(lctx, op, w, h, pageRect);

  if (options.turtles !== false) {
    const unit = Math.max(1, 0.75 / Math.max(t.scale, 1e-6));
    for (const turtle of drawing.turtles || []) {
      if (turtle.visible) drawTurtle(lctx, turtle, w, h, Math.min(unit, 4));
    }
  }
  ctx.drawImage(layer, 0, 0);
  return { scale: t.scale, bounds };
}
