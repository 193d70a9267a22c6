// The page's pure pieces: titles, the verdict's words, the fix preview.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyTextEdits, changedLines, cleanTitle, hintWords, percentile, uriForTitle, verdictWords } from '../src/words.js';

test('titles become the file stem the server reads back', () => {
  for (const [typed, title] of [
    ['car', 'car'],
    ['  my   house ', 'my house'],
    ['a/b\\c', 'a b c'],
    ['..hidden.', 'hidden'],
    ['', 'untitled'],
    ['///', 'untitled'],
  ]) assert.equal(cleanTitle(typed), title, typed);
  assert.equal(uriForTitle('my house'), 'file:///pencilcode/my%20house.coffee');
  assert.equal(uriForTitle('snö?#'), 'file:///pencilcode/sn%C3%B6%3F%23.coffee');
});

test('the verdict in plain words', () => {
  const at = (line, message) => ({ range: { start: { line, character: 0 } }, message, severity: 1 });
  const error = verdictWords({ status: 'error', diagnostics: [at(3, 'fdd is not defined')], fixes: 2 });
  assert.equal(error.tone, 'error');
  assert.equal(error.headline, 'Oops! There is a problem on line 4.');
  assert.match(error.detail, /^fdd is not defined\nThe coach has fixes/);
  assert.doesNotMatch(verdictWords({ status: 'error', diagnostics: [at(0, 'x')], fixes: 0 }).detail, /fixes/);
  const ok = verdictWords({ status: 'ok', diagnostics: [], drawing: { ops: [{}], truncated: true } });
  assert.equal(ok.tone, 'ok');
  assert.match(ok.detail, /Look at the drawing\.\nYour program drew so much/);
  assert.match(verdictWords({ status: 'ok', drawing: { ops: [] } }).detail, /did not draw anything/);
  assert.match(verdictWords({ status: 'timeout' }).headline, /took too long/);
  assert.match(verdictWords({ status: 'waits_for_input' }).headline, /waiting for someone to type/);
});

test('fix edits apply in UTF-16 positions and preview as changed lines', () => {
  const text = 'pen red\nfd 100\nrt 90\nfdd 50\n';
  const edit = (l1, c1, l2, c2, newText) => ({ range: { start: { line: l1, character: c1 }, end: { line: l2, character: c2 } }, newText });
  const fixed = applyTextEdits(text, [edit(3, 0, 3, 3, 'fd')]);
  assert.equal(fixed, 'pen red\nfd 100\nrt 90\nfd 50\n');
  assert.deepEqual(changedLines(text, fixed), { line: 4, removed: ['fdd 50'], added: ['fd 50'] });
  // Edits given out of order, one of them after an emoji (two UTF-16 units).
  assert.equal(applyTextEdits('label "😀x"\nfd 1\n', [edit(1, 3, 1, 4, '10'), edit(0, 9, 0, 10, 'y')]), 'label "😀y"\nfd 10\n');
  assert.throws(() => applyTextEdits('abc', [edit(0, 0, 0, 2, ''), edit(0, 1, 0, 3, '')]), /overlapping/);
  assert.deepEqual(changedLines('a\nb\n', 'a\nx\ny\nb\n'), { line: 2, removed: [], added: ['x', 'y'] });
  assert.equal(percentile([5, 1, 3, 2, 4], 50), 3);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95), 10);
});

test('hints lose the sender and the risk figure', () => {
  assert.equal(hintWords('Pencil coach: before the next change, run it. (backtracking risk 49%)'), 'Before the next change, run it.');
  assert.equal(hintWords('Try a smaller step.'), 'Try a smaller step.');
});
