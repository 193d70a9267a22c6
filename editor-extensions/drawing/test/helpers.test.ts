import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  boundsOf,
  boxCorners,
  strokeWindows,
  pageTransform,
  pageBounds,
  CONTENT_MARGIN,
  MIN_CONTENT_SIDE,
  Drawing,
  DrawingOp,
} from '../src/render';

function drawing(ops: DrawingOp[], width = 1280, height = 720): Drawing {
  return { version: 1, width, height, background: null, ops, turtles: [], truncated: false };
}

function close(actual: number, expected: number, what: string) {
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} != ${expected}`);
}

test('an empty drawing has no bounds', () => {
  assert.equal(boundsOf(drawing([])), null);
  // A one-point line draws nothing in jquery-turtle, nor does an empty label.
  assert.equal(
    boundsOf(drawing([
      { op: 'line', color: 'red', width: 5, points: [3, 4] },
      { op: 'label', x: 0, y: 0, text: '  ', color: 'black', size: 12, heading: 0 },
    ])),
    null,
  );
});

test('line bounds include half the pen width', () => {
  const b = boundsOf(drawing([{ op: 'line', color: 'red', width: 10, points: [0, 0, 0, 100, 100, 100] }]));
  assert.deepEqual(b, { minX: -5, minY: -5, maxX: 105, maxY: 105 });
});

test('dots, boxes and fills add their own extent', () => {
  const b = boundsOf(drawing([
    { op: 'dot', x: -50, y: 20, color: 'red', diameter: 20 },
    { op: 'box', x: 100, y: 0, color: 'blue', size: 10, heading: 30 },
    { op: 'fill', color: 'green', points: [0, -40, 10, -30, -10, -30] },
  ]))!;
  close(b.minX, -60, 'minX');
  close(b.maxX, 100 + 5 * Math.SQRT2, 'maxX');
  close(b.minY, -40, 'minY');
  close(b.maxY, 30, 'maxY');
});

test('a page-filling dot or box makes the bounds the page', () => {
  for (const op of [
    { op: 'dot', x: 5, y: 5, color: 'pink', diameter: null },
    { op: 'box', x: 5, y: 5, color: 'pink', size: null, heading: 0 },
  ] as DrawingOp[]) {
    assert.deepEqual(boundsOf(drawing([op], 800, 600)), pageBounds(800, 600));
  }
});

test('page fit keeps the aspect and centres the page', () => {
  // A canvas twice as wide as the page's aspect: height limits the scale.
  const t = pageTransform(1280, 720, 1000, 360);
  close(t.scale, 0.5, 'scale');
  close(t.offsetX, 500, 'offsetX');
  close(t.offsetY, 180, 'offsetY');
  // The page corners land inside the canvas, top-left of the page (y up) at the top.
  close(t.offsetX + -640 * t.scale, 180, 'left edge');
  close(t.offsetY - 360 * t.scale, 0, 'top edge');
  // Same size as the page: identity up to the centre shift.
  const same = pageTransform(1280, 720, 1280, 720, 'page');
  assert.deepEqual(same, { scale: 1, offsetX: 640, offsetY: 360 });
});

test('page fit ignores the bounds', () => {
  const b = { minX: 0, minY: 0, maxX: 10, maxY: 10 };
  assert.deepEqual(pageTransform(1280, 720, 640, 360, 'page', b), pageTransform(1280, 720, 640, 360));
});

test('content fit maps the bounds into the canvas with the margin', () => {
  const b = { minX: 0, minY: 0, maxX: 200, maxY: 100 };
  const t = pageTransform(1280, 720, 424, 224, 'content', b);
  close(t.scale, (424 - 2 * CONTENT_MARGIN) / 200, 'scale');
  // The box's left and right edges sit one margin in from the canvas edges.
  close(t.offsetX + b.minX * t.scale, CONTENT_MARGIN, 'left');
  close(t.offsetX + b.maxX * t.scale, 424 - CONTENT_MARGIN, 'right');
  // Vertically centred, y up: the top of the box is above the bottom.
  const top = t.offsetY - b.maxY * t.scale;
  const bottom = t.offsetY - b.minY * t.scale;
  close((top + bottom) / 2, 112, 'vertical centre');
  assert.ok(top < bottom);
});

test('content fit does not blow a single dot up to the whole canvas', () => {
  const b = { minX: -4.4, minY: -4.4, maxX: 4.4, maxY: 4.4 };
  const t = pageTransform(1280, 720, 600, 600, 'content', b);
  close(t.scale, (600 - 2 * CONTENT_MARGIN) / MIN_CONTENT_SIDE, 'scale');
  close(t.offsetX, 300, 'centred x');
  close(t.offsetY, 300, 'centred y');
});

test('content fit without bounds falls back to the page', () => {
  assert.deepEqual(pageTransform(1280, 720, 640, 360, 'content', null), pageTransform(1280, 720, 640, 360));
});

test('boxCorners copies jquery-turtle fillBox: axis-aligned at heading 0, a diamond at 45', () => {
  const square = boxCorners(100, 100, 20, 0);
  const xs = [square[0], square[2], square[4], square[6]].map((v) => Math.round(v * 1e9) / 1e9);
  const ys = [square[1], square[3], square[5], square[7]].map((v) => Math.round(v * 1e9) / 1e9);
  assert.deepEqual([...new Set(xs)].sort((a, b) => a - b), [90, 110]);
  assert.deepEqual([...new Set(ys)].sort((a, b) => a - b), [90, 110]);
  const diamond = boxCorners(0, 0, 20, 45);
  // Every corner is half the diagonal from the centre, on an axis.
  for (let i = 0; i < 8; i += 2) {
    close(Math.hypot(diamond[i], diamond[i + 1]), 10 * Math.SQRT2, `corner ${i / 2} radius`);
    assert.ok(Math.min(Math.abs(diamond[i]), Math.abs(diamond[i + 1])) < 1e-9, `corner ${i / 2} on an axis`);
  }
});

test('strokeWindows follows jquery-turtle: each move strokes the last three points, then the last two', () => {
  assert.deepEqual(strokeWindows(0), []);
  assert.deepEqual(strokeWindows(1), []);
  // fd 100 from a fresh pen: the one segment twice (as logged on the real page).
  assert.deepEqual(strokeWindows(2), [[0, 2], [0, 2]]);
  assert.deepEqual(strokeWindows(4), [[0, 2], [0, 2], [0, 3], [1, 3], [1, 4], [2, 4]]);
  // Every inner segment is stroked three times, the last one twice.
  const covered = (n: number, seg: number) =>
    strokeWindows(n).filter(([from, to]) => from <= seg && seg + 1 < to).length;
  assert.equal(covered(6, 0), 3);
  assert.equal(covered(6, 3), 3);
  assert.equal(covered(6, 4), 2);
});
