// The sandbox's JavaScript side: loads the embedded compiler behind a small
// `require` shim, defines the globals the real Pencil Code page defines
// (turtle runtime + Chromium window names), and runs one program at a time on
// a virtual clock. Rust calls `__pencil_sandbox__.compile` / `.run` and reads
// back a JSON string.
//
// Evaluated once per runtime as `(this file)(MODULES, TURTLE, BROWSER)`.
(function (MODULES, TURTLE, BROWSER) {
  'use strict';
  var G = globalThis;
  // Intrinsics are captured before any student code runs: programs may
  // overwrite `JSON`, `Math`, `Object`... and the host must keep working.
  var JSONstringify = JSON.stringify;
  var JSONparse = JSON.parse;
  var defineProperty = Object.defineProperty;
  var getOwnPropertyNames = Object.getOwnPropertyNames;
  var getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
  var objectKeys = Object.keys;
  // Defined by the engine in a script named "<input>", so that stack frames of
  // student code evaluated through it carry that name.
  var indirectEval = G.__pencil_eval__;
  delete G.__pencil_eval__;
  var ErrorCtor = Error;
  var MathObj = Math;
  var mathFloor = Math.floor, mathCeil = Math.ceil, mathAbs = Math.abs, mathMax = Math.max;
  var ProxyCtor = Proxy;
  var hasOwn = Function.prototype.call.bind(Object.prototype.hasOwnProperty);
  var StringCtor = String;
  var isArray = Array.isArray;

  // --- compiler (iced-coffee-script 1.8.0-e behind a require shim) ---------
  var moduleCache = {};
  function makeRequire(dir) {
    return function (name) {
      var key;
      if (name === 'iced-runtime') key = 'rt/main';
      else if (name.slice(0, 2) === './') key = dir + '/' + name.slice(2);
      else return {}; // fs, path, vm, module, child_process: unused by compile()
      if (moduleCache[key]) return moduleCache[key].exports;
      var factory = MODULES[key];
      if (!factory) throw new ErrorCtor('compiler bundle lacks module ' + key);
      var module = { exports: {} };
      moduleCache[key] = module;
      factory.call(module.exports, makeRequire(key.split('/')[0]), module, module.exports);
      return module.exports;
    };
  }
  // coffee-script.js installs a Node-only `Error.prepareStackTrace` (it
  // calls `path.extname`), which breaks every `error.stack`: put it back.
  var hadPrepare = hasOwn(Error, 'prepareStackTrace');
  var prepareStackTrace = Error.prepareStackTrace;
  var CoffeeScript = makeRequire('cs')('./coffee-script');
  if (hadPrepare) Error.prepareStackTrace = prepareStackTrace; else delete Error.prepareStackTrace;
  var icedRuntime = CoffeeScript.iced;

  function compile(src) {
    try {
      return { ok: true, js: CoffeeScript.compile(src, { bare: true }) };
    } catch (e) {
      var loc = e && e.location;
      return {
        ok: false,
        error: {
          kind: 'SyntaxError',
          message: String(e && e.message),
          line: loc ? loc.first_line + 1 : null,
          column: loc ? loc.first_column + 1 : null
        }
      };
    }
  }

  // --- name tables ---------------------------------------------------------
  var colorNames = TURTLE.colors;
  var colorSet = Object.create(null);
  colorNames.forEach(function (c) { colorSet[c] = true; });
  var shapeNames = { turtle: 1, pointer: 1, radius: 1, dot: 1, point: 1, pencil: 1 };

  function isCSSColor(s) {
    if (typeof s !== 'string' || !s) return false;
    if (/^[a-z]+$/.test(s)) return hasOwn(colorSet, s) || s === 'tan';
    return /^(?:rgb|hsl)a?\([^)]*\)$|^#[a-f0-9]{3}(?:[a-f0-9]{3})?$/i.test(s);
  }
  function isShape(s) {
    return hasOwn(shapeNames, s) || /^(\d+)x(\d+)(?:\/(\d+))?$/.test(s);
  }

  // --- per-run state -------------------------------------------------------
  var S = null; // the current run's state; null between runs
  var OPTIONS = { window_s: 5.5, absolute_urls_fail: true, max_turtle_ops: 300000, max_events: 100000 };

  function Budget(message) { this.message = message; }

  function makeRng(seed) {
    var a = seed >>> 0;
    return function () { // mulberry32: deterministic verdicts, run after run
      a = (a + 0x6D2B79F5) >>> 0;
      var t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function newState() {
    return {
      now: 0, seq: 0, events: [], errors: [], end: false, endTime: null,
      waitsForInput: false, turtleOps: 0, eventsRun: 0, hung: null,
      turtles: [], defaultSpeed: 1, insidetick: 0,
      foreverTimers: [], currentTimers: [], tickTimer: null, timerIds: 0,
      mail: {}, receivers: {}, rng: makeRng(20240501),
      drawing: { ops: [], points: 0, truncated: false, background: null }
    };
  }

  function errorRecord(e, time) {
    var kind = 'Error', message;
    if (e && typeof e === 'object') {
      try { kind = String(e.name || 'Error'); } catch (x) { kind = 'Error'; }
      try { message = String(e.message); } catch (x) { message = ''; }
    } else {
      try { message = String(e); } catch (x) { message = 'uncaught exception'; }
    }
    var pos = stackPosition(e);
    return { kind: kind, message: message, line: pos ? pos[0] : null, column: pos ? pos[1] : null, time: time };
  }

  // Student code is evaluated with the file name "<input>" by QuickJS; the
  // first stack frame from it gives the position in the generated code.
  function stackPosition(e) {
    var stack;
    try { stack = e && typeof e === "object" ? String(e.stack || "") : ""; } catch (x) { return null; }
    var m = /<input>:(\d+)(?::(\d+))?/.exec(stack);
    if (!m && e && typeof e === 'object' && typeof e.lineNumber === 'number') {
      return [e.lineNumber, typeof e.columnNumber === 'number' ? e.columnNumber : null];
    }
    if (!m) return null;
    return [Number(m[1]), m[2] ? Number(m[2]) : null];
  }

  function reportError(e) {
    if (!S) return;
    if (e instanceof Budget) { S.hung = e.message; throw e; }
    S.errors.push(errorRecord(e, S.now));
  }
  function consoleError(message) {
    if (!S) return;
    S.errors.push({ kind: 'ConsoleError', message: message, line: null, column: null, time: S.now });
  }

  // --- virtual clock -------------------------------------------------------
  function schedule(time, fn) {
    var ev = { time: time, seq: S.seq++, fn: fn, cancelled: false };
    var evs = S.events, lo = 0, hi = evs.length;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      var m = evs[mid];
      if (m.time < ev.time || (m.time === ev.time && m.seq < ev.seq)) lo = mid + 1; else hi = mid;
    }
    evs.splice(lo, 0, ev);
    return ev;
  }
  function runEvents() {
    var limit = OPTIONS.window_s;
    while (S.events.length && !S.hung) {
      var ev = S.events[0];
      if (ev.time > limit) break;
      S.events.shift();
      if (ev.cancelled) continue;
      if (++S.eventsRun > OPTIONS.max_events) { S.hung = 'too many timer callbacks'; break; }
      if (ev.time > S.now) S.now = ev.time;
      try { ev.fn(); } catch (e) { if (e instanceof Budget) break; reportError(e); }
    }
  }

  var timers = {};
  function addTimer(fn, ms, repeat, args) {
    var id = ++S.timerIds;
    var delay = Number(ms);
    if (!(delay > 0)) delay = 0;
    if (repeat && delay < 4) delay = 4; // browsers clamp repeating timers
    var run = typeof fn === 'function' ? fn : function () { indirectEval(String(fn)); };
    var rec = { ev: null };
    var fire = function () {
      if (repeat) rec.ev = schedule(S.now + delay / 1000, fire);
      run.apply(G, args);
    };
    rec.ev = schedule(S.now + delay / 1000, fire);
    timers[id] = rec;
    return id;
  }
  function clearTimer(id) {
    var rec = timers[id];
    if (rec && rec.ev) rec.ev.cancelled = true;
    delete timers[id];
  }

  // --- turtles -------------------------------------------------------------
  function Tur() {
    this.x = 0; this.y = 0; this.dir = 0; this.qend = S ? S.now : 0;
    this.speed = null; this.pen = 'none'; this.visible = true; this.scale = 1;
    // Pen as jquery-turtle keeps it: a style (null = `pen none`), whether it is
    // down, and the corners a later `fill` fills (one list per unbroken stretch).
    this.style = null; this.down = false; this.corners = [[]]; this.stroke = null;
    if (S) S.turtles.push(this);
  }
  function countOp() {
    if (++S.turtleOps > OPTIONS.max_turtle_ops) {
      S.hung = 'too many turtle moves (the page would hang)';
      throw new Budget(S.hung);
    }
  }
  function moveCost(t) {
    var sp = t.speed != null ? t.speed : (S.insidetick ? Infinity : S.defaultSpeed);
    sp = Number(sp);
    return sp > 0 && sp !== Infinity ? 1 / sp : 0;
  }
  function enqueue(t, seconds) {
    countOp();
    var start = t.qend > S.now ? t.qend : S.now;
    t.qend = start + seconds;
  }
  function queueDrained() {
    var end = S.now;
    for (var i = 0; i < S.turtles.length; i++) if (S.turtles[i].qend > end) end = S.turtles[i].qend;
    return end;
  }
  // Calls fn once every turtle's queue is empty (after a zero timeout, as
  // jquery-turtle does); motions queued meanwhile push it further.
  function whenDrained(fn, one) {
    var check = function () {
      var end = one ? (one.qend > S.now ? one.qend : S.now) : queueDrained();
      if (end > S.now) schedule(end, check); else schedule(S.now, fn);
    };
    check();
  }
  function num(v, d) { v = Number(v); return v === v ? v : d; }

  // --- the drawing ------------------------------------------------------------
  // What the turtles drew, in turtle coordinates (origin at the page centre, y
  // up), as jquery-turtle would paint it on its canvas. Capped: a program that
  // draws forever must not take the host's memory with it.
  var DRAW_MAX_OPS = 20000, DRAW_MAX_POINTS = 200000, DEFAULT_PEN_WIDTH = 1.62, DEFAULT_DOT = 8.8;
  function r2(v) { v = Number(v); return v === v && v !== Infinity && v !== -Infinity ? MathObj.round(v * 100) / 100 : 0; }
  function cssText(v) {
    if (typeof v === 'function') return StringCtor(v.helpname || v.name || '');
    try { return StringCtor(v).slice(0, 200); } catch (e) { return ''; }
  }
  function addOp(op, points) {
    var d = S.drawing;
    if (d.ops.length >= DRAW_MAX_OPS || d.points + points > DRAW_MAX_POINTS) { d.truncated = true; return false; }
    d.ops.push(op); d.points += points;
    return true;
  }
  function clearDrawing() {
    S.drawing.ops = []; S.drawing.points = 0;
    for (var i = 0; i < S.turtles.length; i++) S.turtles[i].stroke = null;
  }
  // A stretch of pen movement from (x0, y0) to the turtle's position now.
  function penMoved(t, x0, y0) {
    if (!t.style || !t.down) return;
    if (r2(x0) === r2(t.x) && r2(y0) === r2(t.y)) return; // a move that went nowhere adds no corner
    var seg = t.corners[0];
    if (!seg.length) seg.push(r2(x0), r2(y0));
    seg.push(r2(t.x), r2(t.y));
    if (seg.length > 2 * DRAW_MAX_POINTS) seg.splice(0, seg.length - 2 * DRAW_MAX_POINTS);
    if (t.style.path) return;
    var ops = S.drawing.ops, op = t.stroke, n = op ? op.points.length : 0;
    if (op && ops[ops.length - 1] === op && op.points[n - 2] === r2(x0) && op.points[n - 1] === r2(y0)) {
      if (S.drawing.points + 1 > DRAW_MAX_POINTS) { S.drawing.truncated = true; return; }
      op.points.push(r2(t.x), r2(t.y)); S.drawing.points++;
      return;
    }
    op = { op: 'line', color: t.style.erase ? 'erase' : t.style.color, width: r2(t.style.width), points: [r2(x0), r2(y0), r2(t.x), r2(t.y)] };
    t.stroke = addOp(op, 2) ? op : null;
  }
  // Pen up, pen none, a jump: the next stretch does not join the last one.
  function penBreak(t, forget) {
    t.stroke = null;
    if (forget) { t.corners = [[]]; return; }
    if (t.corners[0].length > 2) t.corners.unshift([]); else t.corners[0] = [];
    if (t.corners.length > 1000) t.corners.length = 1000;
  }
  // jquery-turtle's `pen` arguments: any order; a number is the width.
  function setPen(t, args) {
    var style, width, sawStyle = false;
    for (var i = 0; i < args.length; i++) {
      var a = args[i];
      if (typeof a === 'number') { width = a; continue; }
      if (typeof a === 'string' && /^(?:butt|square|round|bevel|miter)$/.test(a)) continue;
      if (typeof a === 'function' && !a.helpname && !a.name) continue; // a continuation
      if (!sawStyle) { style = a; sawStyle = true; }
    }
    if (typeof style === 'function') style = style.helpname || style.name;
    if (width === 0 || style === null) style = 'none';
    else if (style === undefined) style = 'black';
    if (style === false || style === true || style === 'down' || style === 'up') {
      t.down = style === true || style === 'down';
      if (!t.down) penBreak(t, false);
      return;
    }
    if (style && typeof style === 'object') style = style.strokeStyle || style.color || 'black';
    var text = cssText(style).trim();
    // A new pen ends the old pen's paths (jquery-turtle switches to no pen first).
    penBreak(t, true);
    if (!text || text === 'none') { t.style = null; t.down = false; return; }
    var w = typeof width === 'number' && width === width ? width : DEFAULT_PEN_WIDTH;
    if (text === 'path' || text === 'fill') t.style = { path: true, color: null, width: w };
    else if (/^erase\b/.test(text)) t.style = { erase: true, color: 'erase', width: w }; // renderers add jquery-turtle's +1
    else t.style = { color: text, width: w };
    t.down = true;
  }
  function fillPath(t, color) {
    var text = cssText(color).trim();
    if (!text || text === 'none') text = null;
    for (var i = t.corners.length - 1; i >= 0; i--) {
      var seg = t.corners[i];
      if (seg.length < 4) continue;
      if (text) addOp({ op: 'fill', color: text, points: seg.slice() }, seg.length / 2);
      if (t.style && !t.style.path && !t.style.erase) addOp({ op: 'line', color: t.style.color, width: r2(t.style.width), points: seg.slice() }, seg.length / 2);
    }
    var last = t.corners[0];
    t.corners = [last.length ? last.slice(last.length - 2) : []];
    t.stroke = null;
  }
  // dot/box: (color, size) in either order; no color means the pen's, else black.
  function shapeArgs(t, a, b) {
    if (typeof a === 'number' || (typeof a === 'string' && a !== '' && !isNaN(+a) && typeof b !== 'number')) { var s = a; a = b; b = s; }
    var color = a == null || a === '' ? (t.style && t.style.color && !t.style.path ? t.style.color : 'black') : cssText(a);
    var size = b == null ? DEFAULT_DOT : Number(b);
    return { color: color, size: size === Infinity || size === -Infinity ? null : r2(size) };
  }
  function drawLabel(t, html, side, styles) {
    if ((!styles || typeof styles === 'string') && (typeof side === 'number' || (side && typeof side === 'object'))) { var s = styles; styles = side; side = s; }
    if (typeof styles === 'number') styles = { fontSize: styles };
    var size = 16, color = 'black';
    if (styles && typeof styles === 'object') {
      if (styles.fontSize != null) size = parseFloat(styles.fontSize) || size;
      if (styles.color != null) color = cssText(styles.color);
    }
    var text = cssText(html == null ? '' : html).replace(/<[^>]*>/g, '').replace(/&nbsp;/g, ' ').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    var rotated = side == null || /\brotated\b/.test(StringCtor(side));
    addOp({ op: 'label', x: r2(t.x), y: r2(t.y), text: text, color: color, size: r2(size), heading: rotated ? r2(t.dir) : 0 }, 1);
  }
  function drawingResult() {
    var d = S.drawing, ends = [];
    for (var i = 0; i < S.turtles.length && i < 100; i++) {
      var t = S.turtles[i];
      ends.push({ x: r2(t.x), y: r2(t.y), heading: r2(((t.dir % 360) + 360) % 360), visible: !!t.visible });
    }
    return { version: 1, width: 1280, height: 720, background: d.background, ops: d.ops, turtles: ends, truncated: d.truncated };
  }

  // Resource loads from the page: a `file://` page, offline, as the oracle ran.
  // Returns whether the load failed (and was recorded).
  function resource(url, what, at) {
    if (!S) return false;
    var time = at !== undefined && at > S.now ? at : S.now;
    if (url == null) return false;
    url = StringCtor(url).trim();
    if (!url || /^(data|blob|javascript|about):/i.test(url)) return false;
    if (/^https?:\/\//i.test(url) && !OPTIONS.absolute_urls_fail) return false;
    S.errors.push({ kind: 'ResourceError', message: 'Failed to load resource: ' + url + (what ? ' (' + what + ')' : ''), line: null, column: null, time: time });
    return true;
  }
  // jquery-turtle's nameToImg: colors and built-in shapes draw; anything else is an image URL.
  function imageSpec(name, what, at) {
    if (!name || typeof name === 'object' || typeof name === 'function') return;
    if (typeof name !== 'string') return;
    var words = name.trim().split(/\s+/);
    if (words.length && isShape(words[words.length - 1])) words.pop();
    if (!words.length || (words.length && isCSSColor(words.join(' ')))) return;
    if (words.length === 1 && words[0] === '') return;
    resource(/\//.test(name) ? name : '//pencilcode.net/img/' + name, what, at);
  }
  function scanHtml(html) {
    if (typeof html !== 'string' || html.indexOf('<') < 0 && html.indexOf('url(') < 0) return;
    var re = /<(img|audio|video|source|iframe|script|embed|input|track)\b[^>]*?\bsrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi, m;
    while ((m = re.exec(html))) resource(m[2] != null ? m[2] : m[3] != null ? m[3] : m[4], m[1].toLowerCase());
    var bg = /\bbackground\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi;
    while ((m = bg.exec(html))) resource(m[1] != null ? m[1] : m[2] != null ? m[2] : m[3], 'background');
    var css = /url\(\s*(["']?)([^"')]+)\1\s*\)/gi;
    while ((m = css.exec(html))) resource(m[2], 'css');
  }

  // --- permissive stand-ins for browser objects ----------------------------
  // Deep browser APIs (document, canvas contexts, navigator...) are modelled
  // as objects that accept any use: real programs rarely misuse them, and a
  // false "error" would be worse than a missed one.
  var anyTarget = function () {};
  function anything(label) {
    var cache = {};
    var p = new ProxyCtor(anyTarget, {
      get: function (t, k) {
        if (k === Symbol.toPrimitive) return function (hint) { return hint === 'number' ? 0 : ''; };
        if (k === 'toString' || k === 'valueOf') return function () { return ''; };
        if (k === 'length') return 0;
        if (k === 'then') return undefined;
        if (typeof k === 'symbol') return undefined;
        if (hasOwn(cache, k)) return cache[k];
        if (k === 'src' || k === 'href') return '';
        return (cache[k] = anything(label + '.' + k));
      },
      set: function (t, k, v) {
        if (k === 'src' && S) resource(v, label);
        if ((k === 'innerHTML' || k === 'outerHTML') && S) scanHtml(v);
        cache[k] = v; return true;
      },
      apply: function () { return anything(label + '()'); },
      construct: function () { return anything('new ' + label); },
      has: function () { return true; },
      deleteProperty: function (t, k) { delete cache[k]; return true; }
    });
    return p;
  }

  // --- jQuery-like objects (turtles and elements) ---------------------------
  function JQ(tur, kind) {
    this._t = tur || null;
    this._kind = kind || 'element';
    this.length = 1;
  }
  var jqProto = JQ.prototype;
  function turOf(jq) {
    if (!jq._t) jq._t = new Tur();
    return jq._t;
  }
  function chain(name) { return function () { return this; }; }
  var jqueryChainable = ('add addBack addClass after andSelf animate append appendTo attr before bind blur ' +
    'change children clearQueue click clone closest contents contextmenu css data dblclick delay delegate ' +
    'dequeue detach die each empty end eq error fadeIn fadeOut fadeTo fadeToggle filter find finish first ' +
    'focus focusin focusout has height hide hover html innerHeight innerWidth insertAfter insertBefore ' +
    'keydown keypress keyup last load map mousedown mouseenter mouseleave mousemove mouseout mouseover ' +
    'mouseup next nextAll nextUntil not off offset offsetParent on one outerHeight outerWidth parent parents ' +
    'parentsUntil position prepend prependTo prev prevAll prevUntil prop queue ready remove removeAttr ' +
    'removeClass removeData removeProp replaceAll replaceWith resize scroll scrollLeft scrollTop select ' +
    'show siblings slice slideDown slideToggle slideUp stop submit text toggle toggleClass trigger ' +
    'triggerHandler unbind undelegate unwrap val width wrap wrapAll wrapInner extend pushStack init ' +
    'ajaxComplete ajaxError ajaxSend ajaxStart ajaxStop ajaxSuccess direct').split(' ');
  jqueryChainable.forEach(function (n) { jqProto[n] = chain(n); });
  jqProto.jquery = '2.1.4';
  var getters = { height: 24, width: 24, innerHeight: 24, innerWidth: 24, outerHeight: 24, outerWidth: 24, scrollTop: 0, scrollLeft: 0 };
  objectKeys(getters).forEach(function (n) {
    jqProto[n] = function (v) { return arguments.length ? this : (this._kind === 'window' || this._kind === 'document' ? (n.indexOf('idth') >= 0 ? 1280 : 720) : getters[n]); };
  });
  ['text', 'html', 'val'].forEach(function (n) {
    jqProto[n] = function (v) {
      if (!arguments.length) return this._kind === 'input' ? '' : '';
      if (n === 'html') scanHtml(typeof v === 'string' ? v : '');
      return this;
    };
  });
  ['append', 'prepend', 'after', 'before', 'replaceWith', 'wrap'].forEach(function (n) {
    jqProto[n] = function () { for (var i = 0; i < arguments.length; i++) scanHtml(arguments[i]); return this; };
  });
  // Styles set are kept per element and read back as set (not computed).
  jqProto.css = function (k, v) {
    if (arguments.length === 1 && typeof k === 'string') return this._css && hasOwn(this._css, k) ? this._css[k] : '';
    if (!this._css) this._css = Object.create(null);
    if (typeof k === 'object' && k) {
      for (var key in k) { if (typeof k[key] === 'string') scanHtml(k[key]); this._css[key] = StringCtor(k[key]); }
    } else if (typeof k === 'string' && arguments.length > 1 && typeof v !== 'function') {
      if (typeof v === 'string') scanHtml(v);
      this._css[k] = StringCtor(v);
    }
    // The page's background, as the drawing shows it.
    if (S && (this._kind === 'body' || this._kind === 'document' || this._kind === 'window')) {
      var bg = this._css.background || this._css['background-color'] || this._css.backgroundColor;
      if (bg && !/url\(/i.test(bg)) S.drawing.background = StringCtor(bg).slice(0, 200);
    }
    return this;
  };
  jqProto.attr = function (k, v) {
    if (arguments.length === 1 && typeof k === 'string') return undefined;
    if (k === 'src') resource(v, 'attr');
    return this;
  };
  jqProto.prop = function (k) { return arguments.length === 1 && typeof k === 'string' ? undefined : this; };
  jqProto.data = function (k) { return arguments.length === 1 && typeof k === 'string' ? undefined : this; };
  jqProto.is = function () { return false; };
  jqProto.hasClass = function () { return false; };
  jqProto.index = function () { return -1; };
  jqProto.size = function () { return this.length; };
  jqProto.get = function (i) { return arguments.length ? (i === 0 || i === -1 ? element(this) : undefined) : [element(this)]; };
  jqProto.toArray = function () { return [element(this)]; };
  jqProto.offset = function (v) { return arguments.length ? this : { left: 0, top: 0 }; };
  jqProto.position = function () { return { left: 0, top: 0 }; };
  jqProto.serializeArray = function () { return []; };
  jqProto.serialize = function () { return ''; };
  jqProto.each = function (fn) { if (typeof fn === 'function') fn.call(element(this), 0, element(this)); return this; };
  jqProto.map = function (fn) { return new JQ(null); };
  jqProto.ready = function (fn) { if (typeof fn === 'function' && S) { var self = this; schedule(S.now, function () { fn.call(G, jQuery); }); } return this; };
  jqProto.load = function (url) { if (typeof url === 'string') resource(url, 'load'); return this; };
  jqProto.promise = function () {
    var self = this;
    return { done: function (fn) { if (typeof fn === 'function') whenDrained(function () { fn.call(self); }, self._t); return this; }, then: undefined };
  };
  Object.defineProperty(jqProto, 0, { get: function () { return element(this); }, configurable: true });
  function element(jq) {
    if (!jq._el) jq._el = anything('element');
    return jq._el;
  }

  // Turtle methods (jquery-turtle's turtlefn), on any jQuery-like object.
  function motion(update) {
    return function () {
      var t = turOf(this);
      if (update) update.apply(t, arguments);
      enqueue(t, moveCost(t));
      return this;
    };
  }
  function instant(update) {
    return function () {
      var t = turOf(this);
      if (update) update.apply(t, arguments);
      countOp();
      return this;
    };
  }
  function rad(d) { return d * MathObj.PI / 180; }
  function forward(t, d) { d = num(d, 0); t.x += d * MathObj.sin(rad(t.dir)); t.y += d * MathObj.cos(rad(t.dir)); }
  // slide x, y: right x and forward y, relative to the heading.
  function slideBy(t, x, y) {
    var s = MathObj.sin(rad(t.dir)), c = MathObj.cos(rad(t.dir));
    t.x += x * c + y * s; t.y += y * c - x * s;
  }
  function drawn(update) {
    return function () { var x0 = this.x, y0 = this.y; update.apply(this, arguments); penMoved(this, x0, y0); };
  }
  function jumped(update) {
    return function () { update.apply(this, arguments); penBreak(this, false); };
  }
  // rt/lt degrees[, radius]: a pivot, or an arc around a centre `radius` away
  // on the turning side, drawn as short chords.
  function turn(t, degrees, radius) {
    var r = num(radius, 0);
    if (!r || !degrees) { t.dir += degrees; return; }
    var side = degrees > 0 ? 1 : -1, a0 = rad(t.dir);
    var cx = t.x + side * r * MathObj.cos(a0), cy = t.y - side * r * MathObj.sin(a0);
    var steps = mathMax(1, MathObj.min(360, MathObj.ceil(MathObj.abs(degrees) / 5)));
    for (var i = 1; i <= steps; i++) {
      var x0 = t.x, y0 = t.y, a = rad(t.dir + degrees * i / steps);
      t.x = cx - side * r * MathObj.cos(a); t.y = cy + side * r * MathObj.sin(a);
      penMoved(t, x0, y0);
    }
    t.dir += degrees;
  }
  function target(a, b) {
    if (a && typeof a === 'object') {
      if (a instanceof JQ) { var o = turOf(a); return [o.x, o.y]; }
      if (isArray(a)) return [num(a[0], 0), num(a[1], 0)];
      if ('pageX' in a) return [num(a.pageX, 0) - 640, 360 - num(a.pageY, 0)];
      if (b === undefined) return null; // an event with no position: nowhere to go
    }
    return [num(a, 0), num(b, 0)];
  }
  var turtleMethods = {
    fd: motion(drawn(function (d) { forward(this, d == null ? 100 : d); })),
    bk: motion(drawn(function (d) { forward(this, -num(d == null ? 100 : d, 0)); })),
    rt: motion(function (a, r) { turn(this, a == null ? 90 : num(a, 0), r); }),
    lt: motion(function (a, r) { turn(this, -(a == null ? 90 : num(a, 0)), r); }),
    slide: motion(drawn(function (x, y) { slideBy(this, num(x, 0), num(y, 0)); })),
    movexy: motion(drawn(function (x, y) { this.x += num(x, 0); this.y += num(y, 0); })),
    moveto: motion(drawn(function (a, b) { var p = target(a, b); if (p) { this.x = p[0]; this.y = p[1]; } })),
    jump: motion(jumped(function (x, y) { slideBy(this, num(x, 0), num(y, 0)); })),
    jumpxy: motion(jumped(function (x, y) { this.x += num(x, 0); this.y += num(y, 0); })),
    jumpto: motion(jumped(function (a, b) { var p = target(a, b); if (p) { this.x = p[0]; this.y = p[1]; } })),
    turnto: motion(function (a, b) {
      if (typeof a === 'number' && b === undefined) this.dir = a;
      else { var p = target(a, b); if (p) this.dir = MathObj.atan2(p[0] - this.x, p[1] - this.y) * 180 / MathObj.PI; }
    }),
    home: motion(jumped(function () { this.x = 0; this.y = 0; this.dir = 0; })),
    pause: function (s) {
      var t = turOf(this);
      if (s instanceof JQ) { var o = turOf(s); if (o.qend > t.qend) t.qend = o.qend; countOp(); return this; }
      enqueue(t, mathMax(num(s, 0), 0));
      return this;
    },
    speed: function (mps) { if (!arguments.length) return this; turOf(this).speed = mps; countOp(); return this; },
    // Queued commands: jquery-turtle runs (and, for wear, loads) them when
    // the turtle's animation queue reaches them, each taking one move's time.
    wear: function (name) {
      var t = turOf(this), at = t.qend > S.now ? t.qend : S.now;
      imageSpec(name, 'wear', at);
      enqueue(t, moveCost(t));
      return this;
    },
    pen: function (c) { var t = turOf(this); t.pen = c; setPen(t, arguments); enqueue(t, t.visible ? moveCost(t) : 0); return this; },
    pu: instant(function () { setPen(this, [false]); }), pd: instant(function () { setPen(this, [true]); }),
    pe: instant(function () { setPen(this, ['erase']); }), pf: instant(function () { setPen(this, ['path']); }),
    fill: instant(function (c) { fillPath(this, c); }),
    dot: motion(function (a, b) { var p = shapeArgs(this, a, b); addOp({ op: 'dot', x: r2(this.x), y: r2(this.y), color: p.color, diameter: p.size }, 1); }),
    box: motion(function (a, b) { var p = shapeArgs(this, a, b); addOp({ op: 'box', x: r2(this.x), y: r2(this.y), color: p.color, size: p.size, heading: r2(this.dir) }, 1); }),
    arrow: motion(), mirror: instant(), twist: instant(),
    scale: motion(), grow: motion(), st: instant(function () { this.visible = true; }),
    ht: instant(function () { this.visible = false; }), clip: instant(), say: instant(),
    play: instant(), tone: instant(), silence: instant(), drawon: instant(), reload: instant(),
    label: motion(function (html, side, styles) { scanHtml(html); drawLabel(this, html, side, styles); }),
    copy: function () { var c = new JQ(new Tur(), 'turtle'); var me = turOf(this); c._t.x = me.x; c._t.y = me.y; c._t.dir = me.dir; return c; },
    hatch: function (n, spec) { return hatch(n, spec); },
    getxy: function () { var t = turOf(this); return [t.x, t.y]; },
    pagexy: function () { var t = turOf(this); return { pageX: 640 + t.x, pageY: 360 - t.y }; },
    direction: function (a, b) {
      var t = turOf(this);
      if (!arguments.length) return t.dir;
      var p = target(a, b) || [t.x, t.y]; return MathObj.atan2(p[0] - t.x, p[1] - t.y) * 180 / MathObj.PI;
    },
    distance: function (a, b) { var t = turOf(this), p = target(a, b) || [t.x, t.y]; return MathObj.sqrt((p[0] - t.x) * (p[0] - t.x) + (p[1] - t.y) * (p[1] - t.y)); },
    canvas: function () { return anything('canvas'); },
    imagedata: function () { return anything('imagedata'); },
    // The same cell every time, so styles a program sets on it read back (mazes).
    cell: function (r, c) {
      var key = num(r, 0) + ',' + num(c, 0);
      if (!this._cells) this._cells = Object.create(null);
      return this._cells[key] || (this._cells[key] = new JQ(null, 'cell'));
    },
    shown: function () { return turOf(this).visible; },
    hidden: function () { return !turOf(this).visible; },
    inside: function () { return true; },
    touches: function () { return false; },
    within: function () { return new JQ(null); },
    notwithin: function () { return new JQ(null); },
    nearest: function () { return this; },
    done: function (fn) { var self = this; if (typeof fn === 'function') whenDrained(function () { fn.call(self); }); return this; },
    plan: function (fn) { var self = this; var t = turOf(this); if (typeof fn === 'function') whenDrained(function () { fn.call(self, 0, element(self)); }, t); return this; },
    saveimg: function () { return this; },
    remove: function () { var t = this._t; if (t) { var i = S.turtles.indexOf(t); if (i >= 0) S.turtles.splice(i, 1); } return this; }
  };
  turtleMethods.move = turtleMethods.slide;
  turtleMethods.direct = turtleMethods.plan;
  turtleMethods.enclosedby = turtleMethods.inside;
  turtleMethods.bearing = turtleMethods.direction;
  objectKeys(turtleMethods).forEach(function (n) { jqProto[n] = turtleMethods[n]; });
  // Anything else jquery-turtle names as a turtle method stays permissive.
  (TURTLE.turtle_object_methods_extra_to_jquery || []).forEach(function (n) {
    if (!jqProto[n]) jqProto[n] = function () { return this; };
  });

  function jQuery(sel, ctx) {
    if (typeof sel === 'function') { if (S) schedule(S.now, function () { sel.call(G, jQuery); }); return new JQ(null, 'document'); }
    if (sel === G) return new JQ(null, 'window');
    if (sel instanceof JQ) return sel;
    if (typeof sel === 'string') {
      if (/^\s*</.test(sel)) scanHtml(sel);
      if (sel === '#turtle' || sel === '.turtle' && S && S.main) return S.mainJQ;
      if (/^\s*(?:body|html)\s*$/i.test(sel)) return new JQ(null, 'body');
    }
    return new JQ(null, sel && sel === G.document ? 'document' : 'element');
  }
  jQuery.fn = jqProto;
  jQuery.prototype = jqProto;
  jqProto.constructor = jQuery;
  ['get', 'getJSON', 'getScript', 'post', 'ajax', 'load'].forEach(function (n) {
    jQuery[n] = function (url) {
      if (url && typeof url === 'object') url = url.url;
      resource(url, '$.' + n);
      return { done: function () { return this; }, fail: function () { return this; }, always: function () { return this; }, then: function () { return this; } };
    };
  });
  jQuery.extend = function (target) {
    for (var i = 1; i < arguments.length; i++) { var s = arguments[i]; if (s) for (var k in s) target[k] = s[k]; }
    return target;
  };
  jQuery.each = function (obj, fn) {
    if (isArray(obj)) { for (var i = 0; i < obj.length; i++) if (fn.call(obj[i], i, obj[i]) === false) break; }
    else if (obj) { for (var k in obj) if (fn.call(obj[k], k, obj[k]) === false) break; }
    return obj;
  };
  jQuery.map = function (arr, fn) { var out = []; for (var i = 0; i < arr.length; i++) { var r = fn(arr[i], i); if (r != null) out.push(r); } return out; };
  jQuery.inArray = function (v, arr) { return arr ? Array.prototype.indexOf.call(arr, v) : -1; };
  jQuery.isArray = isArray;
  jQuery.isFunction = function (f) { return typeof f === 'function'; };
  jQuery.isNumeric = function (n) { return !isArray(n) && n - parseFloat(n) + 1 >= 0; };
  jQuery.isPlainObject = function (o) { return !!o && typeof o === 'object' && Object.getPrototypeOf(o) === Object.prototype; };
  jQuery.trim = function (s) { return s == null ? '' : String(s).trim(); };
  jQuery.now = function () { return S ? S.now * 1000 : 0; };
  jQuery.noop = function () {};
  jQuery.turtle = function () {};
  jQuery.fx = { speeds: {}, off: false };

  function hatch(n, spec) {
    if (typeof n !== 'number') { spec = n; n = 1; }
    imageSpec(spec, 'hatch');
    var jq = new JQ(new Tur(), 'turtle');
    var main = S && S.mainJQ ? turOf(S.mainJQ) : null;
    if (main) { jq._t.x = main.x; jq._t.y = main.y; jq._t.dir = main.dir; }
    return jq;
  }
  function sprite(defaultShape) {
    return function Sprite(arg) {
      if (!(this instanceof Sprite)) return undefined; // jquery-turtle's constructors need `new`
      imageSpec(arg, defaultShape);
      JQ.call(this, new Tur(), 'turtle');
    };
  }
  var Turtle = sprite('turtle');
  Turtle.prototype = jqProto;
  var Sprite = sprite('sprite');
  Sprite.prototype = jqProto;
  function Pencil() { if (!(this instanceof Pencil)) return undefined; JQ.call(this, new Tur(), 'turtle'); }
  Pencil.prototype = jqProto;
  function Webcam() { if (!(this instanceof Webcam)) return undefined; JQ.call(this, new Tur(), 'turtle'); }
  Webcam.prototype = jqProto;
  function Piano() { if (!(this instanceof Piano)) return undefined; JQ.call(this, new Tur(), 'turtle'); }
  Piano.prototype = jqProto;

  // --- global turtle functions (jquery-turtle's dollar_turtle_methods) ------
  function mainCall(name) {
    return function () { var m = S.mainJQ; return m[name].apply(m, arguments); };
  }
  function waitInput() { S.waitsForInput = true; return new JQ(null, 'input'); }
  function fmt(args) { var out = []; for (var i = 0; i < args.length; i++) out.push(args[i]); return out; }
  function degrees(f) { return function (x) { return f(x) * 180 / MathObj.PI; }; }
  function ofDegrees(f) { return function (x) { return f(x * MathObj.PI / 180); }; }
  function clamp255(v) { return mathMax(0, Math.min(255, Math.round(num(v, 0)))); }

  var globalFns = {
    $: jQuery, jQuery: jQuery,
    Turtle: Turtle, Sprite: Sprite, Pencil: Pencil, Webcam: Webcam, Piano: Piano,
    write: function () { for (var i = 0; i < arguments.length; i++) scanHtml(arguments[i]); return new JQ(null); },
    append: function () { for (var i = 0; i < arguments.length; i++) scanHtml(arguments[i]); return new JQ(null); },
    type: function () { return new JQ(null); },
    typeline: function () { return new JQ(null); },
    typebox: function () { return new JQ(null); },
    read: function (p, fn) { return waitInput(); },
    readnum: function (p, fn) { return waitInput(); },
    readstr: function (p, fn) { return waitInput(); },
    listen: function () { return waitInput(); },
    menu: function (choices, fn) { return waitInput(); },
    button: function () { return new JQ(null, 'button'); },
    table: function () { return new JQ(null, 'table'); },
    img: function (url) { if (typeof url === 'string') imageSpec(url, 'img'); return new JQ(null, 'img'); },
    random: function (arg, arg2) {
      var r = S.rng;
      if (typeof arg === 'number') {
        arg = mathCeil(arg);
        if (typeof arg2 === 'number') { arg2 = mathCeil(arg2); return mathFloor(r() * (arg2 - arg) + arg); }
        return mathFloor(r() * arg);
      }
      if (typeof arg === 'object' && arg && arg.length && arg.slice) return arg[mathFloor(r() * arg.length)];
      if (arg === 'normal') { var u = r() || 1e-9, v = r(); return MathObj.sqrt(-2 * MathObj.log(u)) * MathObj.cos(2 * MathObj.PI * v); }
      if (arg === 'position') return { pageX: mathFloor(r() * 1281), pageY: mathFloor(r() * 721) };
      if (arg === 'color') return 'hsl(' + mathFloor(r() * 360) + ',100%,50%)';
      if (arg === 'gray') return 'hsl(0,0,' + mathFloor(r() * 100) + '%)';
      if (arg === true) return r() >= 0.5;
      return r();
    },
    rgb: function (r, g, b) { return 'rgb(' + clamp255(r) + ',' + clamp255(g) + ',' + clamp255(b) + ')'; },
    rgba: function (r, g, b, a) { return 'rgba(' + clamp255(r) + ',' + clamp255(g) + ',' + clamp255(b) + ',' + num(a, 1) + ')'; },
    hsl: function (h, s, l) { return 'hsl(' + num(h, 0) + ',' + num(s, 0) * 100 + '%,' + num(l, 0) * 100 + '%)'; },
    hsla: function (h, s, l, a) { return 'hsla(' + num(h, 0) + ',' + num(s, 0) * 100 + '%,' + num(l, 0) * 100 + '%,' + num(a, 1) + ')'; },
    abs: MathObj.abs, acos: MathObj.acos, asin: MathObj.asin, atan: MathObj.atan, cos: MathObj.cos,
    sin: MathObj.sin, tan: MathObj.tan, ceil: MathObj.ceil, floor: MathObj.floor, round: MathObj.round,
    exp: MathObj.exp, ln: MathObj.log, log10: MathObj.log10, pow: MathObj.pow, sqrt: MathObj.sqrt,
    max: MathObj.max, min: MathObj.min,
    acosd: degrees(MathObj.acos), asind: degrees(MathObj.asin), atand: function (y, x) { return (arguments.length > 1 ? MathObj.atan2(y, x) : MathObj.atan(y)) * 180 / MathObj.PI; },
    cosd: ofDegrees(MathObj.cos), sind: ofDegrees(MathObj.sin), tand: ofDegrees(MathObj.tan),
    speed: function (mps) { if (arguments.length) { countOp(); S.defaultSpeed = mps; } return S.defaultSpeed; },
    defaultspeed: function (mps) { if (arguments.length) { S.defaultSpeed = mps; } return S.defaultSpeed; },
    forever: function (fps, fn) {
      if (!fn && typeof fps === 'function') { fn = fps; fps = 30; }
      var ms = mathMax(mathFloor(1000 / mathMax(1 / (24 * 60 * 60), num(fps, 30))), 0);
      var rec = { fn: fn, active: false, id: 0 };
      var main = turOf(S.mainJQ);
      if (main.qend > S.now) whenDrained(function () { rec.active = true; }, main); else rec.active = true;
      rec.id = addTimer(function () {
        if (!rec.active || typeof fn !== 'function') return;
        S.insidetick++; S.currentTimers.push(rec);
        try { fn(); } finally { S.insidetick--; S.currentTimers.pop(); }
      }, ms, true, []);
      S.foreverTimers.push(rec);
      return rec.id;
    },
    stop: function (which) {
      if (which == null && S.currentTimers.length) which = S.currentTimers[S.currentTimers.length - 1].id;
      S.foreverTimers = S.foreverTimers.filter(function (r) {
        if (which == null || which === r.id || which === r.fn) { clearTimer(r.id); return false; }
        return true;
      });
    },
    tick: function (tps, fn) {
      var start = function () {
        if (fn === undefined && typeof tps === 'function') { fn = tps; tps = 1; }
        if (S.tickTimer) { clearTimer(S.tickTimer); S.tickTimer = null; }
        if (fn && tps) S.tickTimer = addTimer(function () { S.insidetick++; try { fn(); } finally { S.insidetick--; } }, 1000 / num(tps, 1), true, []);
      };
      var main = turOf(S.mainJQ);
      if (main.qend > S.now) whenDrained(start, main); else start();
    },
    done: function (fn) { if (typeof fn === 'function') whenDrained(function () { fn(); }); return { done: function () { return this; } }; },
    sync: function () {
      var ts = [], end = S.now;
      for (var i = 0; i < arguments.length; i++) if (arguments[i] instanceof JQ) { var t = turOf(arguments[i]); ts.push(t); if (t.qend > end) end = t.qend; }
      ts.forEach(function (t) { t.qend = end; });
    },
    pause: function (s) { var m = S.mainJQ; return m.pause.apply(m, arguments); },
    remove: function (t) { if (t instanceof JQ) t.remove(); },
    send: function (name, data) {
      name = String(name);
      var rs = S.receivers[name];
      if (rs && rs.length) { var cb = rs.shift(); schedule(S.now, function () { cb(data); }); }
      else (S.mail[name] = S.mail[name] || []).push(data);
    },
    recv: function (name, cb) {
      name = String(name);
      if (typeof cb !== 'function') return;
      var box = S.mail[name];
      if (box && box.length) { var d = box.shift(); schedule(S.now, function () { cb(d); }); }
      else { S.waitsForInput = true; (S.receivers[name] = S.receivers[name] || []).push(cb); }
    },
    load: function (url, cb) { resource(url, 'load'); },
    save: function () {},
    loadscript: function (url, cb) { resource(url, 'loadscript'); },
    interrupt: function () {},
    cs: function () { clearDrawing(); S.drawing.background = null; }, cg: function () { clearDrawing(); }, ct: function () {},
    canvas: function () { return anything('canvas'); },
    sizexy: function () { return [1280, 720]; },
    hatch: hatch,
    click: function () {}, dblclick: function () {}, mouseup: function () {}, mousedown: function () {},
    mousemove: function () {}, keydown: function () {}, keyup: function () {}, keypress: function () {},
    pressed: function (k) { return arguments.length ? false : []; },
    help: function () {}, see: function () {}, debug: function () {}, log: function () {},
    printpage: function () {},
    play: function () {}, tone: function () {}, silence: function () {}, say: function () {},
    recolor: function () {
      var seen = function (v) {
        if (typeof v === 'string') { if (/[\/]|\.(png|jpe?g|gif|svg)$/i.test(v)) resource(v, 'recolor'); }
        else if (isArray(v)) v.forEach(seen);
      };
      for (var i = 0; i < arguments.length; i++) seen(arguments[i]);
    },
    _start_ide_: function () {}
  };
  globalFns.print = globalFns.write;
  globalFns.defaultspeed = globalFns.speed;
  // Global forms of turtle methods act on the main turtle.
  (objectKeys(TURTLE.functions)).forEach(function (n) {
    if (!hasOwn(globalFns, n) && typeof jqProto[n] === 'function') globalFns[n] = mainCall(n);
  });
  ['css', 'animate', 'toggle', 'finish', 'promise', 'show', 'hide', 'fadeIn', 'fadeOut', 'fadeTo', 'fadeToggle'].forEach(function (n) {
    if (!hasOwn(globalFns, n)) globalFns[n] = mainCall(n);
  });
  // Lodash (3.10.1) is a global too: the functions students use.
  var lodash = {
    range: function (a, b, step) {
      if (b === undefined) { b = a; a = 0; } step = step === undefined ? (a < b ? 1 : -1) : step;
      var out = []; if (!step) return out;
      for (var v = a; step > 0 ? v < b : v > b; v += step) { out.push(v); if (out.length > 1e7) break; }
      return out;
    },
    shuffle: function (a) { var c = Array.prototype.slice.call(a || []); for (var i = c.length - 1; i > 0; i--) { var j = mathFloor(S.rng() * (i + 1)); var t = c[i]; c[i] = c[j]; c[j] = t; } return c; },
    sample: function (a, n) { if (!a || !a.length) return undefined; return n === undefined ? a[mathFloor(S.rng() * a.length)] : lodash.shuffle(a).slice(0, n); },
    random: function (a, b) { if (b === undefined) { b = a; a = 0; } return a + mathFloor(S.rng() * (b - a + 1)); },
    times: function (n, fn) { var out = []; for (var i = 0; i < n; i++) out.push(fn(i)); return out; },
    each: function (c, fn) { return jQuery.each(c, function (k, v) { return fn(v, k); }); },
    map: function (c, fn) { var out = []; jQuery.each(c, function (k, v) { out.push(fn(v, k)); }); return out; },
    filter: function (c, fn) { var out = []; jQuery.each(c, function (k, v) { if (fn(v, k)) out.push(v); }); return out; },
    contains: function (c, v) { return Array.prototype.indexOf.call(c || [], v) >= 0; },
    includes: function (c, v) { return Array.prototype.indexOf.call(c || [], v) >= 0; },
    sum: function (a) { var s = 0; (a || []).forEach(function (v) { s += v; }); return s; },
    max: function (a) { return MathObj.max.apply(null, a); },
    min: function (a) { return MathObj.min.apply(null, a); },
    first: function (a) { return a ? a[0] : undefined; },
    last: function (a) { return a ? a[a.length - 1] : undefined; },
    uniq: function (a) { var out = []; (a || []).forEach(function (v) { if (out.indexOf(v) < 0) out.push(v); }); return out; },
    keys: function (o) { return objectKeys(o || {}); },
    values: function (o) { return objectKeys(o || {}).map(function (k) { return o[k]; }); },
    clone: function (o) { return isArray(o) ? o.slice() : jQuery.extend({}, o); },
    isEqual: function (a, b) { return JSONstringify(a) === JSONstringify(b); },
    delay: function (fn, ms) { return addTimer(fn, ms, false, []); },
    defer: function (fn) { return addTimer(fn, 0, false, []); }
  };
  lodash.forEach = lodash.each;
  var lodashFn = function (v) { return v; };
  jQuery.extend(lodashFn, lodash);

  // --- XMLHttpRequest on an offline page -----------------------------------
  // Every request fails to load (as `resource` decides). A synchronous send() then
  // throws a NetworkError, as Chromium does; an asynchronous one ends later with
  // readyState 4, status 0 and the readystatechange, error and loadend events.
  function domException(name, message) {
    var e = new ErrorCtor(message);
    e.name = name;
    return e;
  }
  function XMLHttpRequest() {
    this.readyState = 0; this.status = 0; this.statusText = ''; this.responseText = ''; this.response = '';
    this.responseXML = null; this.responseType = ''; this.responseURL = ''; this.timeout = 0;
    this.withCredentials = false; this.upload = anything('XMLHttpRequest.upload');
    this.onreadystatechange = null; this.onload = null; this.onerror = null; this.onloadend = null;
    this._listeners = {}; this._url = null; this._async = true; this._sent = false;
  }
  var xhrStates = { UNSENT: 0, OPENED: 1, HEADERS_RECEIVED: 2, LOADING: 3, DONE: 4 };
  objectKeys(xhrStates).forEach(function (k) { XMLHttpRequest[k] = xhrStates[k]; XMLHttpRequest.prototype[k] = xhrStates[k]; });
  var xhrProto = XMLHttpRequest.prototype;
  xhrProto.open = function (method, url, async) {
    this._url = StringCtor(url);
    this._async = arguments.length < 3 || !!async;
    this._sent = false;
    this.readyState = 1;
  };
  xhrProto.setRequestHeader = function () {};
  xhrProto.overrideMimeType = function () {};
  xhrProto.getResponseHeader = function () { return null; };
  xhrProto.getAllResponseHeaders = function () { return ''; };
  xhrProto.abort = function () {};
  xhrProto.addEventListener = function (type, fn) {
    if (typeof fn !== 'function') return;
    (hasOwn(this._listeners, type) ? this._listeners[type] : (this._listeners[type] = [])).push(fn);
  };
  xhrProto.removeEventListener = function (type, fn) {
    var ls = hasOwn(this._listeners, type) ? this._listeners[type] : [];
    var i = ls.indexOf(fn);
    if (i >= 0) ls.splice(i, 1);
  };
  xhrProto._fire = function (type) {
    var self = this;
    var ev = { type: type, target: self, currentTarget: self, loaded: 0, total: 0, lengthComputable: false };
    var handler = self['on' + type];
    if (typeof handler === 'function') handler.call(self, ev);
    (hasOwn(self._listeners, type) ? self._listeners[type].slice() : []).forEach(function (fn) { fn.call(self, ev); });
  };
  xhrProto.send = function () {
    if (this.readyState !== 1 || this._sent) {
      throw domException('InvalidStateError', "Failed to execute 'send' on 'XMLHttpRequest': The object's state must be OPENED.");
    }
    this._sent = true;
    var self = this, url = this._url;
    var failed = resource(url, 'XMLHttpRequest');
    if (!this._async) {
      this.readyState = 4;
      if (failed) throw domException('NetworkError', "Failed to execute 'send' on 'XMLHttpRequest': Failed to load '" + url + "'.");
      return;
    }
    if (!S) return;
    schedule(S.now, function () {
      self.readyState = 4;
      self._fire('readystatechange');
      self._fire(failed ? 'error' : 'load');
      self._fire('loadend');
    });
  };
  // Shared by every run: a program must not change them for the next one.
  Object.freeze(xhrProto);
  Object.freeze(XMLHttpRequest);

  // --- browser globals -------------------------------------------------------
  var consoleObj = {
    log: function () {
      if (S && arguments.length === 1 && arguments[0] === 'END_REACHED') { S.end = true; S.endTime = S.now; }
    },
    error: function () { consoleError(fmt(arguments).join(' ')); },
    assert: function (c) { if (!c) consoleError('Assertion failed'); },
    warn: function () {}, info: function () {}, debug: function () {}, dir: function () {}, table: function () {},
    trace: function () {}, group: function () {}, groupEnd: function () {}, time: function () {}, timeEnd: function () {},
    clear: function () {}, count: function () {}
  };
  var numbers = { length: 0, innerWidth: 1280, outerWidth: 1280, innerHeight: 720, outerHeight: 720, screenX: 0, screenY: 0,
    screenLeft: 0, screenTop: 0, scrollX: 0, scrollY: 0, pageXOffset: 0, pageYOffset: 0, devicePixelRatio: 1 };
  var strings = { name: '', status: '', defaultStatus: '' };
  var booleans = { closed: false, isSecureContext: false, crossOriginIsolated: false, originAgentCluster: false };
  var browserFns = {
    alert: function () {}, confirm: function () { return false; }, prompt: function () { return null; },
    setTimeout: function (fn, ms) { return addTimer(fn, ms, false, Array.prototype.slice.call(arguments, 2)); },
    setInterval: function (fn, ms) { return addTimer(fn, ms, true, Array.prototype.slice.call(arguments, 2)); },
    clearTimeout: function (id) { clearTimer(id); }, clearInterval: function (id) { clearTimer(id); },
    requestAnimationFrame: function (fn) { return addTimer(function () { fn(S.now * 1000); }, 16, false, []); },
    cancelAnimationFrame: function (id) { clearTimer(id); },
    requestIdleCallback: function (fn) { return addTimer(fn, 1, false, []); }, cancelIdleCallback: function (id) { clearTimer(id); },
    queueMicrotask: function (fn) { schedule(S.now, fn); },
    fetch: function (url) { resource(url && url.url || url, 'fetch'); return new Promise(function () {}); },
    atob: function (s) { return String(s); }, btoa: function (s) { return String(s); },
    find: function () { return false; }, open: function () { return null; }, close: function () {}, focus: function () {}, blur: function () {},
    scroll: function () {}, scrollTo: function () {}, scrollBy: function () {}, moveTo: function () {}, moveBy: function () {},
    resizeTo: function () {}, resizeBy: function () {}, postMessage: function () {}, getSelection: function () { return anything('selection'); },
    getComputedStyle: function () { return anything('style'); }, matchMedia: function () { return { matches: false, addListener: function () {} }; },
    addEventListener: function () {}, removeEventListener: function () {}, dispatchEvent: function () { return true; },
    reportError: function (e) { reportError(e); }, structuredClone: function (v) { return JSONparse(JSONstringify(v)); },
    createImageBitmap: function () { return new Promise(function () {}); },
    XMLHttpRequest: XMLHttpRequest,
    Image: function Image() { return anything('img'); },
    Audio: function Audio(url) { if (url !== undefined) resource(url, 'audio'); return anything('audio'); }
  };

  // --- install the page's globals ------------------------------------------
  var browserNames = Object.create(null);
  BROWSER.forEach(function (n) { browserNames[n] = true; });
  var turtleNames = Object.create(null);
  objectKeys(TURTLE.functions).forEach(function (n) { turtleNames[n] = true; });
  colorNames.forEach(function (n) { turtleNames[n] = true; });
  TURTLE.special_string_constants.forEach(function (n) { turtleNames[n] = true; });
  objectKeys(TURTLE.objects).forEach(function (n) { turtleNames[n] = true; });
  ['PI', 'E', '_start_ide_cs_', '_start_ide_js_'].forEach(function (n) { turtleNames[n] = true; });
  var HOST = '__pencil_sandbox__';

  function define(name, value) {
    defineProperty(G, name, { value: value, writable: true, enumerable: true, configurable: true });
  }
  // Remove what QuickJS / deno_core add that a Chromium page lacks, so such
  // names throw ReferenceError as they do on Pencil Code.
  // This also removes deno_core's `Deno.core` (its ops could print to the
  // process's stdout, which is the language server's protocol channel).
  var engineHooks = /^__proto__$/;
  getOwnPropertyNames(G).forEach(function (n) {
    if (!hasOwn(browserNames, n) && !hasOwn(turtleNames, n) && !engineHooks.test(n)) {
      try { delete G[n]; } catch (e) { /* non-configurable intrinsic: leave it */ }
    }
  });
  var selfNames = { window: 1, self: 1, top: 1, parent: 1, frames: 1, globalThis: 1 };
  BROWSER.forEach(function (n) {
    if (hasOwn(G, n) && !hasOwn(browserFns, n) && n !== 'console') return; // a JS intrinsic the engine already has
    var v;
    if (hasOwn(selfNames, n)) v = G;
    else if (n === 'console') v = consoleObj;
    else if (hasOwn(browserFns, n)) v = browserFns[n];
    else if (hasOwn(numbers, n)) v = numbers[n];
    else if (hasOwn(strings, n)) v = strings[n];
    else if (hasOwn(booleans, n)) v = booleans[n];
    else if (/^on/.test(n)) v = null;
    else if (n === 'event') v = undefined;
    else if (n === 'performance') v = { now: function () { return S ? S.now * 1000 : 0; }, timeOrigin: 0, mark: function () {}, measure: function () {} };
    else if (n === 'location') v = { href: 'file:///program.html', protocol: 'file:', host: '', hostname: '', pathname: '/program.html', search: '', hash: '', origin: 'null', reload: function () {}, assign: function () {}, replace: function () {}, toString: function () { return 'file:///program.html'; } };
    else v = anything(n);
    define(n, v);
  });
  objectKeys(globalFns).forEach(function (n) { define(n, globalFns[n]); });
  define('_', lodashFn);
  colorNames.forEach(function (n) { define(n, n); });
  TURTLE.special_string_constants.forEach(function (n) { if (!hasOwn(globalFns, n)) define(n, n); });
  define('PI', MathObj.PI);
  define('E', MathObj.E);
  define('_start_ide_cs_', '');
  define('_start_ide_js_', '');
  define('CoffeeScript', { compile: function (s, o) { return CoffeeScript.compile(s, o); }, VERSION: '1.8.0-c', iced: icedRuntime });
  define('iced', icedRuntime);
  // socket.io's client: `io()` and `io.connect()` open a socket whose polling
  // request fails on the offline page, as in the oracle's runs.
  var socketIo = function io() { resource('/socket.io/?EIO=3&transport=polling', 'socket.io'); return anything('socket'); };
  socketIo.connect = socketIo;
  define('io', socketIo);
  // Every turtle name must exist, even those modelled only loosely.
  objectKeys(TURTLE.functions).forEach(function (n) { if (!hasOwn(G, n)) define(n, function () {}); });

  // Baseline of the global object, restored before every run.
  var baseline = Object.create(null);
  // Built-in prototypes: if a program adds to them the runtime is retired (`dirty`).
  var guarded = [Object.prototype, Array.prototype, Function.prototype, String.prototype, Number.prototype, Boolean.prototype, MathObj, JSON, Date.prototype, RegExp.prototype];
  var guardedShape = guarded.map(function (o) { return getOwnPropertyNames(o).length; });

  // Parallel arrays: reading values back is much cheaper in QuickJS than
  // comparing ~1,400 property descriptors on every run.
  var baselineNames = [], baselineValues = [], baselineAccessor = [];
  function snapshotGlobals() {
    getOwnPropertyNames(G).forEach(function (n) {
      var d = getOwnPropertyDescriptor(G, n);
      baseline[n] = d;
      baselineNames.push(n);
      baselineAccessor.push(!('value' in d));
      baselineValues.push(d.value);
    });
  }
  // Returns false when the global object could not be restored.
  function restoreGlobals() {
    var clean = true;
    var names = getOwnPropertyNames(G);
    {
      for (var i = 0; i < names.length; i++) {
        var n = names[i];
        if (!(n in baseline)) {
          if (!delete G[n]) clean = false;
        }
      }
    }
    for (var j = 0; j < baselineNames.length; j++) {
      var k = baselineNames[j];
      var changed;
      if (baselineAccessor[j]) {
        var have = getOwnPropertyDescriptor(G, k), want = baseline[k];
        changed = !have || have.get !== want.get || have.set !== want.set;
      } else {
        var v = baselineValues[j];
        changed = G[k] !== v || (v === undefined && !hasOwn(G, k));
      }
      if (changed) {
        try { defineProperty(G, k, baseline[k]); } catch (e) { clean = false; }
      }
    }
    // Stack positions depend on the engine's own stack formatting.
    if (hasOwn(ErrorCtor, 'prepareStackTrace')) { if (!delete ErrorCtor.prepareStackTrace) clean = false; }
    for (var g = 0; g < guarded.length; g++) if (getOwnPropertyNames(guarded[g]).length !== guardedShape[g]) clean = false;
    return clean;
  }

  var mathRandomOriginal = MathObj.random;
  function installRunObjects() {
    S.mainJQ = new JQ(new Tur(), 'turtle');
    S.main = S.mainJQ._t;
    define('turtle', S.mainJQ);
    define('origin', new JQ(null, 'origin'));
    ['lastclick', 'lastdblclick', 'lastmouse', 'lastmousedown', 'lastmouseup', 'lastmousemove'].forEach(function (n) {
      // jquery-turtle's `new $.Event()`: no position until the mouse moves, so
      // `moveto lastclick` stays put (pageX/pageY read undefined, as on the page).
      define(n, { which: 0, type: n.slice(4) });
    });
    MathObj.random = S.rng; // same program, same verdict
  }

  // --- running a program ----------------------------------------------------
  // CoffeeScript runs as `Function(js)()` (top-level names stay local), the
  // JavaScript fallback as a plain <script> (top-level names become globals).
  function run(code, lang, options) {
    S = newState();
    OPTIONS.window_s = options.window_s;
    OPTIONS.absolute_urls_fail = options.absolute_urls_fail;
    OPTIONS.max_turtle_ops = options.max_turtle_ops;
    OPTIONS.max_events = options.max_events;
    installRunObjects();
    var evaluated = lang === 'coffeescript' ? '(function(){' + code + '\n})' : code;
    try {
      if (lang === 'coffeescript') {
        var fn = indirectEval(evaluated);
        fn.call(G);
      } else {
        indirectEval(evaluated);
      }
    } catch (e) {
      if (!(e instanceof Budget)) reportError(e); // a Budget has set S.hung
    }
    if (!S.hung) runEvents();
    S.errors.forEach(function (e) { nameCallee(e, evaluated); });
    var result = {
      errors: S.errors.filter(function (e) { return e.time <= OPTIONS.window_s; }),
      end_reached: S.end, end_time: S.endTime, waits_for_input: S.waitsForInput,
      hung: S.hung, turtle_ops: S.turtleOps, events: S.eventsRun, virtual_s: S.now,
      drawing: drawingResult(), dirty: false
    };
    MathObj.random = mathRandomOriginal;
    S = null;
    timers = {};
    // Restored right away, so nothing from this run reaches the next one.
    if (!restoreGlobals()) result.dirty = true;
    return JSONstringify(result);
  }

  // QuickJS says only "not a function"; Chromium names the callee, which is
  // what a student needs to see ("red is not a function").
  function nameCallee(e, code) {
    // (The engine's own guess reads the wrong source text: every evaluated
    // program shares the name "<input>".)
    if (e.kind !== 'TypeError' || !/(^| )not a function$/.test(e.message) || !e.line) return;
    var text = code.split('\n')[e.line - 1];
    if (text == null) return;
    var i = (e.column || 1) - 1, s = i, end = i;
    while (s > 0 && /[\w$.]/.test(text[s - 1])) s--;
    while (end < text.length && /[\w$]/.test(text[end])) end++;
    var name = text.slice(s, end).replace(/^\.+|\.+$/g, '');
    if (name) e.message = name + ' is not a function';
  }

  // Maps a position in compiled JavaScript to the student's CoffeeScript.
  var sourceMaps = { src: null, map: null };
  // Source maps miss some nodes (a bare identifier statement has none): when
  // the error names an identifier, trust the line that contains it.
  function findName(src, name, loc) {
    var lines = src.split('\n');
    var re = new RegExp('(^|[^\\w$])' + name.replace(/[$]/g, '\\$') + '(?![\\w$])');
    function at(i) { var m = re.exec(lines[i]); return m ? [i, m.index + m[1].length] : null; }
    if (loc && loc[0] < lines.length) {
      var here = at(loc[0]);
      if (here) return here;
    }
    for (var i = loc ? loc[0] : 0; i < lines.length; i++) { var f = at(i); if (f) return f; }
    for (var j = 0; j < lines.length; j++) { var g = at(j); if (g) return g; }
    return loc;
  }
  function sourcePosition(src, line, column, name) {
    try {
      if (sourceMaps.src !== src) {
        sourceMaps.map = CoffeeScript.compile(src, { bare: true, sourceMap: true });
        sourceMaps.src = src;
      }
      var r = sourceMaps.map;
      // Generated line 1 starts with the wrapper `(function(){`.
      var col0 = mathMax((column || 1) - 1 - (line === 1 ? 12 : 0), 0);
      var lineMap = r.sourceMap.lines[line - 1];
      var loc = null;
      if (lineMap) {
        // CoffeeScript 1.8 leaves stale mappings (from the previous statement)
        // at the start of a line: the latest source line on it is the right one.
        var entries = lineMap.columns.filter(function (m) { return m; });
        var top = -1;
        entries.forEach(function (m) { if (m.sourceLine > top) top = m.sourceLine; });
        var pick = null;
        entries.forEach(function (m) {
          if (m.sourceLine !== top) return;
          if (!pick || (m.column <= col0 && m.column > pick.column) || (pick.column > col0 && m.column < pick.column)) pick = m;
        });
        if (pick) loc = [pick.sourceLine, pick.sourceColumn];
      }
      if (!loc) loc = r.sourceMap.sourceLocation([line - 1, col0]);
      if (name) loc = findName(src, name, loc);
      return loc ? JSONstringify([loc[0] + 1, loc[1] + 1]) : 'null';
    } catch (e) {
      return 'null';
    }
  }

  snapshotGlobals();
  var host = {
    compile: function (src) { return JSONstringify(compile(src)); },
    // Options arrive as JSON text (engine.rs hands arguments over as strings).
    run: function (code, lang, optionsJson) { return run(code, lang, JSONparse(optionsJson)); },
    sourcePosition: sourcePosition,
    // Leaves a runtime's state idle after an interrupted run.
    // Global names a Chromium page would not have (should be none).
    strayGlobals: function () { return JSONstringify(getOwnPropertyNames(G).filter(function (n) { return !hasOwn(browserNames, n) && !hasOwn(turtleNames, n) && n !== HOST && !engineHooks.test(n); })); },
    reset: function () { S = null; timers = {}; MathObj.random = mathRandomOriginal; return restoreGlobals(); }
  };
  defineProperty(G, HOST, { value: host, writable: false, enumerable: false, configurable: false });
  baseline[HOST] = getOwnPropertyDescriptor(G, HOST);
  return 'ready';
})
