(function () {
'use strict';
var errors = document.getElementById('errors');
function report(message) {
  errors.textContent += message + '\n';
  document.body.setAttribute('data-errors', 'yes');
}
window.addEventListener('error', function (e) {
  report('error: ' + e.message + ' (line ' + e.lineno + ')');
});
window.addEventListener('unhandledrejection', function (e) {
  report('unhandled rejection: ' + e.reason);
});
try { main(); } catch (e) { report('error: ' + (e && e.stack ? e.stack : e)); }

function main() {
  var started = performance.now();
  var D = JSON.parse(document.getElementById('trace-data').textContent);
  var E = D.events, n = E.length, N = D.clients;
  var LANE0 = D.geometry.lane0, LANE_W = D.geometry.lane_w;
  var ROW_H = n * 24 > 30000000 ? Math.max(1, Math.floor(30000000 / n)) : 24;
  var PAD = 8, MARGIN_ROWS = 6;
  var width = LANE0 + (Math.max(N, 1) - 1) * LANE_W + D.geometry.right;
  var height = PAD * 2 + n * ROW_H;
  var diagram = document.getElementById('diagram');
  var canvas = document.getElementById('canvas');
  var view = document.getElementById('view');
  canvas.style.height = height + 'px';
  canvas.style.width = width + 'px';
  view.setAttribute('width', width);

  var LABEL_DX = D.geometry.label_dx, TIP_GAP = D.geometry.tip_gap, KINK = D.geometry.kink;
  // Rust's f64::round: halves away from zero.
  function roundAway(v) { return v < 0 ? -Math.round(-v) : Math.round(v); }
  function laneX(id) { return LANE0 + (id - 1) * LANE_W; }
  function rowY(r) { return PAD + r * ROW_H + Math.floor(ROW_H / 2); }
  function esc(s) {
    return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  }

  // Lane names, sticky above the diagram.
  var lanes = '<span class="col" style="left:10px">seq</span><span class="col" style="left:' + (LANE0 - 90) + 'px">time</span>';
  for (var c = 1; c <= N; c++) lanes += '<span style="left:' + laneX(c) + 'px">c' + c + '</span>';
  var lanesHead = document.getElementById('lanes');
  lanesHead.innerHTML = lanes;
  document.getElementById('lanes').style.width = width + 'px';

  // Per client: the rows of its events (for the clock, and program order).
  var rowsOf = [];
  for (c = 0; c <= N; c++) rowsOf.push([]);
  for (var i = 0; i < n; i++) if (E[i][2] > 0 && E[i][2] <= N) rowsOf[E[i][2]].push(i);
  // The last index in sorted `list` (by key) with key < limit, or -1.
  function lastBefore(list, limit, key) {
    var lo = 0, hi = list.length - 1, found = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (key(list[mid]) < limit) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }
  function identity(x) { return x; }
  function first(x) { return x[0]; }
  // Microseconds as the text timeline writes them: 12.345ms.
  function timeText(t) { var ms = String(t % 1000); return Math.floor(t / 1000) + '.' + '000'.slice(ms.length) + ms + 'ms'; }
  var TYPE_NAMES = { request: 'REQUEST', reply: 'REPLY', release: 'RELEASE', update: 'UPDATE', updated: 'UPDATED' };

  // Interval lookups: items sorted by start; long items checked always.
  function intervalIndex(items, start, end) {
    var shortItems = [], longItems = [], maxSpan = 0;
    items.forEach(function (item) {
      var s = start(item), e = end(item);
      if (e - s > 2000) longItems.push(item); else { shortItems.push(item); maxSpan = Math.max(maxSpan, e - s); }
    });
    shortItems.sort(function (a, b) { return start(a) - start(b); });
    return function (a, b, visit) {
      longItems.forEach(function (item) { if (start(item) <= b && end(item) >= a) visit(item); });
      var k = lastBefore(shortItems, a - maxSpan, start) + 1;
      for (; k < shortItems.length && start(shortItems[k]) <= b; k++) {
        if (end(shortItems[k]) >= a) visit(shortItems[k]);
      }
    };
  }
  function openStart(r) { return r < 0 ? -1 : r; }
  function openEnd(r) { return r < 0 ? n : r; }
  var arrowsIn = intervalIndex(D.arrows, function (x) { return openStart(x[3]); }, function (x) { return openEnd(x[4]); });
  var sectionsIn = intervalIndex(D.sections, function (x) { return openStart(x[1]); }, function (x) { return openEnd(x[2]); });
  var downsIn = intervalIndex(D.downs, function (x) { return openStart(x[1]); }, function (x) { return openEnd(x[2]); });
  var cutsIn = intervalIndex(D.cuts, function (x) { return openStart(x[0]); }, function (x) { return openEnd(x[1]); });
  var violations = [];
  for (i = 0; i < n; i++) if (E[i][4] === 'violation') violations.push(i);
  // The explanations of the text view, by row.
  var notesAt = {};
  D.notes.forEach(function (x) { notesAt[x[0]] = x[1]; });
  // Message links for happens-before: the send row of a delivery, the deliveries of a send.
  var sendOf = new Int32Array(n).fill(-1), deliveriesOf = {};
  D.arrows.forEach(function (a) {
    if (a[5] !== 0 || a[3] < 0 || a[4] < 0) return;
    sendOf[a[4]] = a[3];
    (deliveriesOf[a[3]] = deliveriesOf[a[3]] || []).push(a[4]);
  });
  // Program order: the previous and next event of the same client.
  var prevOnLane = new Int32Array(n).fill(-1), nextOnLane = new Int32Array(n).fill(-1);
  for (c = 1; c <= N; c++) {
    for (var k = 1; k < rowsOf[c].length; k++) { prevOnLane[rowsOf[c][k]] = rowsOf[c][k - 1]; nextOnLane[rowsOf[c][k - 1]] = rowsOf[c][k]; }
  }

  var step = 0;            // events done: rows 0..step-1 have happened
  var revealAll = false;   // draw the rows still to come too
  var selected = -1;       // the event whose causal past and future are lit
  var cone = null;         // per row: 1 past, 2 future, 3 the selected event, 4 the other of a pair
  var transposed = N > 4;

  // The rows drawn: every row, or only those that have happened.
  function shownRows() { return revealAll ? n : step; }

  // ---------------------------------------------------------------------------------------
  // Happens-before: the causal past and future of one event, following program order and
  // messages (Lamport's "→").
  function causalCone(r) {
    var marks = new Uint8Array(n), stack = [r];
    while (stack.length) {
      var x = stack.pop();
      [prevOnLane[x], sendOf[x]].forEach(function (y) { if (y >= 0 && !marks[y]) { marks[y] = 1; stack.push(y); } });
    }
    stack = [r];
    while (stack.length) {
      x = stack.pop();
      var next = (deliveriesOf[x] || []).concat([nextOnLane[x]]);
      next.forEach(function (y) { if (y >= 0 && !marks[y]) { marks[y] = 2; stack.push(y); } });
    }
    marks[r] = 3;
    return marks;
  }
  function isClientEvent(r) { return E[r][2] > 0; }
  // A shown event concurrent with `r` (no chain of events either way) whose clock differs:
  // the nearest one, or -1.
  function concurrentWithOrderedClock(r, marks, limit) {
    for (var d = 1; d < limit; d++) {
      var candidates = [r - d, r + d];
      for (var j = 0; j < 2; j++) {
        var q = candidates[j];
        if (q >= 0 && q < limit && !marks[q] && isClientEvent(q) && E[q][3] !== E[r][3]) return q;
      }
    }
    return -1;
  }
  function describeEvent(r) { return '#' + E[r][0] + ' (c' + E[r][2] + ', clock ' + E[r][3] + ')'; }
  function select(r, other) {
    selected = r;
    cone = r >= 0 ? causalCone(r) : null;
    var box = document.getElementById('causal');
    if (r < 0) {
      box.hidden = true;
      document.body.removeAttribute('data-selected');
      document.body.removeAttribute('data-pair');
      draw();
      return;
    }
    var limit = shownRows(), past = 0, future = 0;
    for (var q = 0; q < limit; q++) { if (cone[q] === 1) past++; else if (cone[q] === 2) future++; }
    if (other === undefined) other = concurrentWithOrderedClock(r, cone, limit);
    var text = esc(describeEvent(r)) + ': ' + past + ' shown event' + (past === 1 ? '' : 's') + ' happened before it (orange), ' + future + ' after it (purple); the rest are concurrent with it.';
    if (other >= 0) {
      cone[other] = 4;
      var lo = E[r][3] < E[other][3] ? r : other, hi = lo === r ? other : r;
      text += '<br><b>' + esc(describeEvent(lo)) + ' and ' + esc(describeEvent(hi)) + ' are concurrent</b>: no chain of messages leads from one to the other, yet clock ' + E[lo][3] + ' &lt; ' + E[hi][3] + '. The clock condition holds one way only: if a happened before b, C(a) &lt; C(b); C(a) &lt; C(b) does not mean a happened before b.';
      document.body.setAttribute('data-pair', E[lo][0] + ',' + E[hi][0]);
    } else {
      document.body.removeAttribute('data-pair');
    }
    text += ' <button id="goto-selected">go to ' + esc('#' + E[r][0]) + '</button><button id="clear-selection">clear (Esc)</button>';
    box.innerHTML = text;
    box.hidden = false;
    document.getElementById('goto-selected').addEventListener('click', function () { setStep(r + 1); });
    document.getElementById('clear-selection').addEventListener('click', function () { select(-1); });
    document.body.setAttribute('data-selected', String(E[r][0]));
    draw();
  }
  // Two shown events that are concurrent although their clocks are ordered: the current
  // event and a partner if it has one, else the latest shown event that has.
  function findPair() {
    var limit = shownRows(), from = Math.min(limit, step > 0 ? step : limit) - 1, tries = 0;
    for (var r = from; r >= 0 && tries < 200; r--) {
      if (!isClientEvent(r)) continue;
      tries++;
      var marks = causalCone(r), other = concurrentWithOrderedClock(r, marks, limit);
      if (other >= 0) { select(r, other); return true; }
    }
    select(-1);
    document.getElementById('causal').hidden = false;
    document.getElementById('causal').textContent = 'No two shown events are concurrent with ordered clocks yet: step further, or show the whole run.';
    return false;
  }

  // ---------------------------------------------------------------------------------------
  // Drawing, for the rows on screen only.
  function spanY(s, e) {
    var y1 = s < 0 ? 0 : rowY(s), y2 = e < 0 ? height : rowY(e);
    return [y1, Math.max(1, y2 - y1)];
  }
  // The top and height of a span cut at the rows shown: one still going on at the current
  // event reaches the bottom of its row.
  function shownSpanY(s, e) {
    var limit = shownRows();
    if (limit === n || (e >= 0 && e < limit)) return spanY(s, e);
    var y1 = s < 0 ? 0 : rowY(s);
    return [y1, Math.max(1, rowY(limit - 1) + Math.floor(ROW_H / 2) - y1)];
  }

  function eventSvg(r) {
    var ev = E[r], y = rowY(r), node = ev[2], kind = ev[4], mark = cone ? cone[r] : 0;
    var cls = 'ev k-' + kind + (cone && !mark ? ' dim' : '');
    var out = '<g class="' + cls + '" data-row="' + r + '" data-seq="' + ev[0] + '"' + (mark ? ' data-cone="' + ['', 'past', 'future', 'sel', 'pair'][mark] + '"' : '') + '><title>' + esc('#' + ev[0] + ' t=' + timeText(ev[1]) + (node ? ' c' + node : '') + ' clock ' + ev[3] + ': ' + ev[6]) + '</title>';
    if (!node) {
      out += '<line class="net" x1="' + (LANE0 - 30) + '" y1="' + y + '" x2="' + (laneX(N) + 30) + '" y2="' + y + '"/>';
      out += '<text class="lbl" x="' + (laneX(N) + 36) + '" y="' + (y + 4) + '">' + esc(ev[5]) + '</text></g>';
      return out;
    }
    var x = laneX(node);
    if (mark) out += '<circle class="halo ' + ['', 'past', 'future', 'sel', 'pair'][mark] + '" cx="' + x + '" cy="' + y + '" r="9"/>';
    if (kind === 'commit') out += '<rect x="' + (x - 6) + '" y="' + (y - 6) + '" width="12" height="12"/>';
    else if (kind === 'abort' || kind === 'crash' || kind === 'drop') out += '<path d="M' + (x - 5) + ',' + (y - 5) + 'L' + (x + 5) + ',' + (y + 5) + 'M' + (x + 5) + ',' + (y - 5) + 'L' + (x - 5) + ',' + (y + 5) + '"/>';
    else out += '<circle cx="' + x + '" cy="' + y + '" r="' + (kind === 'violation' ? 7 : 4) + '"/>';
    out += '<text class="clk" x="' + (x - LABEL_DX) + '" y="' + (y + 4) + '">' + ev[3] + '</text>';
    out += '<text class="lbl" x="' + (x + LABEL_DX) + '" y="' + (y + 4) + '">' + esc(ev[5]) + '</text></g>';
    return out;
  }

  // As svg::arrow_tip: stop TIP_GAP short of the mark, along the line.
  function tip(x1, y1, x2, y2) {
    var dx = x2 - x1, dy = y2 - y1, len = Math.sqrt(dx * dx + dy * dy);
    if (len <= 2 * TIP_GAP) return [x2, y2];
    return [x2 - roundAway(dx * TIP_GAP / len), y2 - roundAway(dy * TIP_GAP / len)];
  }
  // As svg::arrow_points: under the sender's labels, above the receiver's.
  function arrowPoints(x1, y1, leavesMark, x2, y2, atMark) {
    var toward = Math.sign(x2 - x1), points = [[x1, y1]];
    if (leavesMark) points.push([x1 + toward * KINK, y1 + KINK]);
    if (atMark) {
      var corner = [x2 - toward * KINK, y2 - KINK];
      points.push(corner);
      points.push(tip(corner[0], corner[1], x2, y2));
    } else {
      points.push([x2, y2]);
    }
    return points;
  }
  function arrowLinked(a) {
    if (!cone || a[3] < 0 || a[4] < 0 || a[5] !== 0) return false;
    var s = cone[a[3]], e = cone[a[4]];
    return (s === 1 || s === 3) && (e === 1 || e === 3) || (s === 2 || s === 3) && (e === 2 || e === 3);
  }
  function arrowSvg(a) {
    var limit = shownRows(), x1 = laneX(a[0]), x2 = laneX(a[1]), y1 = a[3] < 0 ? 0 : rowY(a[3]), y2, cls = '', head = a[2], atMark = false;
    if (a[4] >= limit || (a[4] < 0 && limit < n)) {
      // Still on its way at this step: a dashed line to the current row, halfway across.
      if (limit === 0) return '';
      x2 = x1 + Math.trunc((x2 - x1) / 2);
      y2 = Math.max(y1 + 2 * KINK, rowY(limit - 1) + Math.floor(ROW_H / 2));
      cls = ' flight';
    }
    else if (a[5] === 0) { y2 = rowY(a[4]); atMark = true; }
    else if (a[5] === 1) { x2 = x1 + Math.trunc((x2 - x1) * 2 / 5); y2 = rowY(a[4]); cls = ' lost'; head = 'x'; }
    else if (a[5] === 2) { y2 = rowY(a[4]); cls = ' lost'; head = 'x'; }
    else { y2 = height; cls = ' beyond'; }
    if (cone && !arrowLinked(a)) cls += ' dim';
    var points = arrowPoints(x1, y1, a[3] >= 0, x2, y2, atMark).map(function (p) { return p[0] + ',' + p[1]; }).join(' ');
    return '<polyline class="msg m-' + a[2] + cls + '" data-msg="' + a[6] + '" points="' + points + '" marker-end="url(#h-' + head + ')"/>';
  }

  // Is section `x` overlapping another one among the rows shown?
  function overlapsShown(x) {
    if (!x[3]) return false;
    if (revealAll) return true;
    var s = openStart(x[1]), e = x[2] < 0 || x[2] >= step ? step - 1 : x[2], found = false;
    sectionsIn(s, e, function (y) { if (y !== x && openStart(y[1]) < step && openStart(y[1]) <= e && openEnd(y[2]) >= s) found = true; });
    return found;
  }

  function draw() {
    var drawStarted = performance.now();
    var limit = shownRows();
    var top = diagram.scrollTop - 24, h = diagram.clientHeight;
    var a = Math.max(0, Math.floor((top - PAD) / ROW_H) - MARGIN_ROWS);
    var bottom = Math.min(n - 1, Math.ceil((top + h - PAD) / ROW_H) + MARGIN_ROWS);
    var b = Math.min(limit - 1, bottom);
    var y0 = Math.max(0, PAD + a * ROW_H - 4), y1 = Math.min(height, PAD + (Math.max(bottom, a) + 1) * ROW_H + 4);
    var out = [];
    for (var c = 1; c <= N; c++) out.push('<line class="lane" x1="' + laneX(c) + '" y1="' + y0 + '" x2="' + laneX(c) + '" y2="' + y1 + '"/>');
    if (b >= a) {
      cutsIn(a, b, function (x) { if (openStart(x[0]) >= limit) return; var s = shownSpanY(x[0], x[1]); out.push('<rect class="cut" x="' + (LANE0 - 30) + '" y="' + s[0] + '" width="' + (laneX(N) - LANE0 + 60) + '" height="' + s[1] + '"><title>partition ' + esc(x[2]) + '</title></rect>'); });
      for (var v = lastBefore(violations, a, identity) + 1; v < violations.length && violations[v] <= b; v++) {
        out.push('<rect class="vrow" x="0" y="' + (rowY(violations[v]) - ROW_H / 2) + '" width="' + width + '" height="' + ROW_H + '"/>');
      }
      if (step > 0 && step - 1 >= a && step - 1 <= b) out.push('<rect class="cur" x="0" y="' + (rowY(step - 1) - ROW_H / 2) + '" width="' + width + '" height="' + ROW_H + '"/>');
      downsIn(a, b, function (x) { if (openStart(x[1]) >= limit) return; var s = shownSpanY(x[1], x[2]); out.push('<rect class="down" x="' + (laneX(x[0]) - 12) + '" y="' + s[0] + '" width="24" height="' + s[1] + '"/>'); });
      sectionsIn(a, b, function (x) { if (openStart(x[1]) >= limit) return; var s = shownSpanY(x[1], x[2]); out.push('<rect class="cs' + (overlapsShown(x) ? ' overlap' : '') + '" data-lane="' + x[0] + '" x="' + (laneX(x[0]) - 10) + '" y="' + s[0] + '" width="20" height="' + s[1] + '"><title>c' + x[0] + ' in the critical section with request ' + esc(x[4]) + '</title></rect>'); });
      arrowsIn(a, b, function (x) { if (openStart(x[3]) < limit) out.push(arrowSvg(x)); });
      for (var r = a; r <= b; r++) out.push(eventSvg(r));
      // The seq and time columns stay at the left edge when the lanes scroll sideways.
      var sx = diagram.scrollLeft;
      if (sx > 0) out.push('<rect class="columns" x="' + sx + '" y="' + y0 + '" width="' + (LANE0 - 30) + '" height="' + (y1 - y0) + '"/>');
      for (r = a; r <= b; r++) {
        var y = rowY(r);
        out.push('<text class="seq" x="' + (sx + 10) + '" y="' + (y + 4) + '">#' + E[r][0] + '</text><text class="time" x="' + (sx + LANE0 - 40) + '" y="' + (y + 4) + '">' + timeText(E[r][1]) + '</text>');
      }
    }
    lanesHead.querySelectorAll('.col').forEach(function (col, k) { col.style.left = (diagram.scrollLeft + (k ? LANE0 - 90 : 10)) + 'px'; });
    view.setAttribute('viewBox', '0 ' + y0 + ' ' + width + ' ' + (y1 - y0));
    view.setAttribute('height', y1 - y0);
    view.style.top = y0 + 'px';
    // The arrowheads are the markers defined in the legend's SVG above.
    view.innerHTML = out.join('');
    document.body.setAttribute('data-drawn', a + '-' + b);
    document.body.setAttribute('data-view-x', diagram.scrollLeft + ',' + diagram.clientWidth);
    document.body.setAttribute('data-draw-ms', (performance.now() - drawStarted).toFixed(1));
  }

  var pendingDraw = false;
  function scheduleDraw() {
    if (pendingDraw) return;
    pendingDraw = true;
    window.requestAnimationFrame(function () { pendingDraw = false; draw(); });
  }
  diagram.addEventListener('scroll', scheduleDraw);
  window.addEventListener('resize', scheduleDraw);

  // ---------------------------------------------------------------------------------------
  // The state table: clients as columns (few clients) or as rows (many, or on request).
  var FIELDS = [['phase', 'status'], ['why', 'waits for'], ['clock', 'Lamport clock'], ['queue', 'request queue'], ['seen', 'largest ts seen'], ['table', 'balance table'], ['ledger', 'ledger'], ['pending', 'transfers']];
  var VIEW_FIELDS = ['phase', 'why', 'queue', 'seen', 'table', 'ledger', 'pending'];
  var table = document.getElementById('state'), cells = {};
  function cellHtml(c, f) { return '<td data-client="' + c + '" data-field="' + f + '"></td>'; }
  function buildTable() {
    var html = '<thead><tr><th></th>', c;
    if (transposed) {
      FIELDS.forEach(function (f) { html += '<th>' + f[1] + '</th>'; });
      html += '</tr></thead><tbody>';
      for (c = 1; c <= N; c++) {
        html += '<tr data-client="' + c + '"><th class="client">c' + c + '</th>';
        FIELDS.forEach(function (f) { html += cellHtml(c, f[0]); });
        html += '</tr>';
      }
    } else {
      for (c = 1; c <= N; c++) html += '<th data-client="' + c + '">c' + c + '</th>';
      html += '</tr></thead><tbody>';
      FIELDS.forEach(function (f) {
        html += '<tr><th>' + f[1] + '</th>';
        for (var c = 1; c <= N; c++) html += cellHtml(c, f[0]);
        html += '</tr>';
      });
    }
    table.innerHTML = html + '</tbody>';
    cells = {};
    table.querySelectorAll('td').forEach(function (td) { cells[td.dataset.client + ':' + td.dataset.field] = td; });
    document.body.classList.toggle('wide', transposed || N > 4);
    document.body.setAttribute('data-transposed', transposed ? 'yes' : 'no');
  }
  buildTable();

  // Client c's state after s events: the clock of its last event, and per field the last
  // change before step s.
  function stateOf(c, s) {
    var rows = rowsOf[c], k = lastBefore(rows, s, identity);
    var state = { clock: String(k < 0 ? D.clocks[c - 1] : E[rows[k]][3]) };
    VIEW_FIELDS.forEach(function (name, f) {
      var changes = D.views[c - 1][f], j = lastBefore(changes[0], s, identity);
      state[name] = changes[1][Math.max(j, 0)];
    });
    return state;
  }

  // The messages sent and not yet delivered or lost after `step` events.
  function inFlight() {
    var list = [];
    arrowsIn(step - 1, step, function (a) {
      if (openStart(a[3]) < step && openEnd(a[4]) >= step) list.push(a);
    });
    list.sort(function (a, b) { return a[6] - b[6] || openEnd(a[4]) - openEnd(b[4]); });
    return list;
  }
  function showInFlight() {
    var list = inFlight(), ul = document.getElementById('inflight');
    document.getElementById('inflight-head').textContent = 'Messages in flight (' + list.length + ')';
    if (!list.length) { ul.innerHTML = '<li class="empty">none: every message sent so far has arrived or is lost</li>'; return; }
    ul.innerHTML = list.map(function (a) {
      var sent = a[3] < 0 ? 'sent before the first event shown' : 'sent at #' + E[a[3]][0];
      return '<li data-msg="' + a[6] + '">m' + a[6] + ' ' + TYPE_NAMES[a[2]] + '(ts ' + a[7] + ') c' + a[0] + ' → c' + a[1] + ', ' + sent + '</li>';
    }).join('');
  }

  // The current event's sentence and the explanations of the text view under it.
  function showCurrent() {
    var current = document.getElementById('current');
    if (step === 0) {
      current.textContent = 'Before the first event (#' + (n ? E[0][0] : '-') + '). Step forward with → or the buttons.';
      current.className = '';
      return;
    }
    var ev = E[step - 1], notes = notesAt[step - 1] || [];
    var html = esc('#' + ev[0] + '  t=' + timeText(ev[1]) + '  ' + (ev[2] ? 'c' + ev[2] : 'network') + '  clock ' + ev[3]) + '\n' + esc(ev[6]);
    notes.forEach(function (note) {
      var cls = note.indexOf('stale:') === 0 ? ' stale' : note.indexOf('is not in its queue') >= 0 ? ' unknown' : '';
      html += '<span class="note' + cls + '">' + esc(note) + '</span>';
    });
    current.innerHTML = html;
    current.className = ev[4] === 'violation' ? 'violation' : '';
  }

  // Fills the table; a cell is marked when the current event changed it.
  function showState() {
    var node = step > 0 ? E[step - 1][2] : 0;
    for (var c = 1; c <= N; c++) {
      var st = stateOf(c, step), before = step > 0 ? stateOf(c, step - 1) : st;
      FIELDS.forEach(function (f) {
        var td = cells[c + ':' + f[0]], value = st[f[0]];
        if (td.textContent !== value) td.textContent = value;
        td.classList.toggle('changed', value !== before[f[0]]);
        td.classList.toggle('down', st.phase.indexOf('down') === 0);
      });
    }
    table.querySelectorAll('.current-client').forEach(function (x) { x.classList.remove('current-client'); });
    var head = table.querySelector((transposed ? 'tr' : 'th') + '[data-client="' + node + '"]');
    if (head) {
      head.classList.add('current-client');
      followInBox(document.getElementById('state-box'), head, transposed);
    }
    showCurrent();
    showInFlight();
    var inForce = [];
    D.cuts.forEach(function (x) { if (openStart(x[0]) < step && (x[1] < 0 || x[1] >= step)) inForce.push(x[2]); });
    document.getElementById('network').textContent = inForce.length ? 'partition in force: ' + inForce.join(', ') : '';
    var last = n ? '#' + E[n - 1][0] : '-';
    document.getElementById('position').textContent = step > 0 ? 'at #' + E[step - 1][0] + ' of ' + (n ? '#' + E[0][0] : '') + '–' + last : 'before #' + (n ? E[0][0] : '-');
    var box = document.getElementById('goto');
    if (document.activeElement !== box) box.value = step > 0 ? E[step - 1][0] : '';
    document.body.setAttribute('data-step', String(step));
    document.body.setAttribute('data-seq', step > 0 ? String(E[step - 1][0]) : '');
  }

  // Scrolls `box` so that `element` (a row, or a column head) is in view.
  function followInBox(box, element, vertical) {
    if (vertical) {
      var top = element.offsetTop, bottom = top + element.offsetHeight;
      if (top < box.scrollTop + 30 || bottom > box.scrollTop + box.clientHeight) box.scrollTop = Math.max(0, top - 40);
    } else {
      var left = element.offsetLeft, right = left + element.offsetWidth;
      if (left < box.scrollLeft + 60 || right > box.scrollLeft + box.clientWidth) box.scrollLeft = Math.max(0, left - 80);
    }
  }

  // Keeps the current event's row and lane in view.
  function follow() {
    if (step === 0) { diagram.scrollTop = 0; return; }
    var y = rowY(step - 1) + 24, viewTop = diagram.scrollTop, h = diagram.clientHeight;
    if (y < viewTop + 40 || y > viewTop + h - 40) diagram.scrollTop = Math.max(0, y - Math.floor(h / 3));
    var node = E[step - 1][2];
    if (node > 0) {
      var x = laneX(node), left = diagram.scrollLeft, w = diagram.clientWidth;
      if (x - 60 < left + LANE0 - 40 || x + 200 > left + w) diagram.scrollLeft = Math.max(0, x - Math.floor(w / 2));
    }
  }

  function setStep(s, fromHash) {
    s = Math.max(0, Math.min(n, s | 0));
    step = s;
    showState();
    showLegend();
    follow();
    draw();
    if (!fromHash && window.history && window.history.replaceState) {
      var address = step > 0 ? '#seq=' + E[step - 1][0] : '#step=0';
      try { window.history.replaceState(null, '', address); } catch (e) { /* some file: pages refuse */ }
    }
  }

  // The row from which two critical sections overlap (-1: never), so that the legend names
  // an overlap only once one is shown.
  var overlapFrom = -1;
  D.sections.filter(function (x) { return x[3]; }).sort(function (a, b) { return openStart(a[1]) - openStart(b[1]); }).forEach(function (x, k, list) {
    if (overlapFrom >= 0) return;
    for (var j = 0; j < k; j++) if (openEnd(list[j][2]) >= openStart(x[1])) { overlapFrom = openStart(x[1]); return; }
  });
  function showLegend() {
    var item = document.querySelector('.legend-overlap');
    if (item) item.style.display = overlapFrom >= 0 && (revealAll || step - 1 >= overlapFrom) ? '' : 'none';
  }

  function setReveal(on) {
    revealAll = on;
    document.getElementById('reveal-all').checked = on;
    document.body.setAttribute('data-reveal', on ? 'all' : 'steps');
    showLegend();
    if (selected >= 0) select(selected); else draw();
  }

  function jump(kind, direction) {
    var r = step - 1 + direction;
    for (; r >= 0 && r < n; r += direction) {
      if (E[r][4] === kind) { setStep(r + 1); return true; }
    }
    return false;
  }

  // The step just after event `seq` (the last event numbered at most `seq`).
  function stepOfSeq(seq) { return lastBefore(E, seq + 1, first) + 1; }

  // Goes to the event typed in the box, and hands the keys back to the page.
  function gotoTyped() {
    var box = document.getElementById('goto'), seq = parseInt(box.value, 10);
    if (!isNaN(seq)) setStep(stepOfSeq(seq));
    box.blur();
  }

  // Clicks an event of the diagram as a pointer would (for `#…&keys=event:SEQ`).
  function clickEvent(seq) {
    var r = stepOfSeq(seq) - 1;
    if (r < 0) return;
    diagram.scrollTop = Math.max(0, rowY(r) - Math.floor(diagram.clientHeight / 2));
    draw();
    var g = view.querySelector('g.ev[data-row="' + r + '"] circle, g.ev[data-row="' + r + '"] rect, g.ev[data-row="' + r + '"] path');
    if (g) g.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true, view: window }));
  }

  // Plays one action of `&keys=`: a key name (sent to the focused element, as a keyboard
  // would), `click:ID` (a button or box), `event:SEQ` (an event of the diagram) or
  // `type:TEXT` (typed into the event box, then Enter).
  function play(action) {
    var target = document.activeElement || document.body;
    if (action.indexOf('click:') === 0) {
      document.getElementById(action.slice(6)).click();
    } else if (action.indexOf('event:') === 0) {
      clickEvent(parseInt(action.slice(6), 10));
    } else if (action.indexOf('type:') === 0) {
      var box = document.getElementById('goto');
      box.focus();
      box.value = action.slice(5);
      box.dispatchEvent(new Event('input', { bubbles: true }));
      box.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }));
    } else if (/^Shift\+.$/.test(action)) {
      target.dispatchEvent(new KeyboardEvent('keydown', { key: action.slice(6).toUpperCase(), shiftKey: true, bubbles: true, cancelable: true }));
    } else if (action) {
      target.dispatchEvent(new KeyboardEvent('keydown', { key: action === 'Space' ? ' ' : action, bubbles: true, cancelable: true }));
    }
  }

  // `#step=N` (N events done) or `#seq=S` (up to and including event S), then optionally
  // `&keys=k1,k2,...`: actions to play, as a script or a test would.
  function fromHash() {
    var h = window.location.hash, m;
    if ((m = /step=(\d+)/.exec(h))) setStep(parseInt(m[1], 10), true);
    else if ((m = /seq=(\d+)/.exec(h))) setStep(stepOfSeq(parseInt(m[1], 10)), true);
    else setStep(0, true);
    if ((m = /keys=([^&]*)/.exec(h))) decodeURIComponent(m[1]).split(',').forEach(play);
  }

  function on(id, f) { document.getElementById(id).addEventListener('click', f); }
  on('first', function () { setStep(0); });
  on('back', function () { setStep(step - 1); });
  on('forward', function () { setStep(step + 1); });
  on('last', function () { setStep(n); });
  on('next-enter', function () { jump('enter', 1); });
  on('next-commit', function () { jump('commit', 1); });
  on('next-abort', function () { jump('abort', 1); });
  on('next-violation', function () { jump('violation', 1); });
  on('find-pair', function () { findPair(); });
  on('transpose', function () { transposed = !transposed; buildTable(); showState(); });
  var revealBox = document.getElementById('reveal-all');
  revealBox.addEventListener('change', function () { setReveal(revealBox.checked); revealBox.blur(); });
  var gotoBox = document.getElementById('goto');
  gotoBox.addEventListener('change', gotoTyped);
  gotoBox.addEventListener('keydown', function (e) {
    if (e.key === 'Enter') { e.preventDefault(); gotoTyped(); }
    else if (e.key === 'Escape') gotoBox.blur();
  });
  view.addEventListener('click', function (e) {
    var g = e.target.closest ? e.target.closest('g.ev') : null;
    if (!g) return;
    var r = parseInt(g.getAttribute('data-row'), 10);
    select(r === selected ? -1 : r);
  });
  document.addEventListener('keydown', function (e) {
    if (e.target && e.target.id === 'goto') return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var back = e.shiftKey ? -1 : 1, handled = true;
    switch (e.key) {
      case 'ArrowRight': case 'ArrowDown': case 'j': case 'l': case ' ': setStep(step + 1); break;
      case 'ArrowLeft': case 'ArrowUp': case 'k': case 'h': case 'Backspace': setStep(step - 1); break;
      case 'PageDown': setStep(step + 20); break;
      case 'PageUp': setStep(step - 20); break;
      case 'Home': setStep(0); break;
      case 'End': setStep(n); break;
      case 'e': case 'E': jump('enter', back); break;
      case 'c': case 'C': jump('commit', back); break;
      case 'a': case 'A': jump('abort', back); break;
      case 'v': case 'V': jump('violation', back); break;
      case 'r': setReveal(!revealAll); break;
      case 'p': findPair(); break;
      case 't': transposed = !transposed; buildTable(); showState(); break;
      case 'Escape': select(-1); break;
      default: handled = false;
    }
    if (handled) e.preventDefault();
  });
  window.addEventListener('hashchange', fromHash);
  setReveal(false);
  fromHash();
  document.body.setAttribute('data-ready', 'yes');
  document.body.setAttribute('data-load-ms', (performance.now() - started).toFixed(1));
}
})();
