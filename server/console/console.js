// The accrete console: plain JavaScript over the HTTP API of `accrete serve`
// (the same endpoints and the same authentication as any client). Requests
// are EDN (so what a user types goes through as EDN text) and answers JSON
// under the lossless mapping of model/src/json.rs, shown back as EDN.
'use strict';
(() => {
  const PAGE_SIZE = 50;
  const HISTORY_KEY = 'accrete.queries';
  const S = {
    token: sessionStorage.getItem('accrete.token') || '',
    db: sessionStorage.getItem('accrete.db') || '',
    status: null,
    schema: null, // {byId: Map, byIdent: Map, list: [...]}
    basis: null,
    stream: null, // AbortController of the report stream
    onTx: [], // listeners of the current page
    page: '',
  };

  // ---------- DOM
  let seq = 0;
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'text') el.textContent = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid === null || kid === undefined || kid === false) continue;
      el.append(kid instanceof Node ? kid : String(kid));
    }
    return el;
  }
  const $ = (sel, root) => (root || document).querySelector(sel);
  // Replaces the children of `el` (absent ones left out).
  function put(el, ...kids) {
    el.replaceChildren(...kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false));
  }
  function field(label, control, hint) {
    if (!control.id) control.id = 'f' + ++seq;
    return h('div', { class: 'field' },
      h('label', { for: control.id }, label), control,
      hint ? h('span', { class: 'hint' }, hint) : null);
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  }
  function failure(where, e) {
    const p = h('p', { class: 'error-inline', role: 'alert' }, `${e.kind ? e.kind + ': ' : ''}${e.message}`);
    put(where, p);
    return p;
  }
  function showError(e) {
    const box = $('#error');
    put(box, String(e.message || e),
      h('button', { type: 'button', class: 'plain', onclick: () => { box.hidden = true; } }, 'Close'));
    box.hidden = false;
  }

  // ---------- the API
  class ApiError extends Error {
    constructor(status, message, kind) { super(message); this.status = status; this.kind = kind; }
  }
  async function api(path, body) {
    const headers = { Accept: 'application/json' };
    if (S.token) headers.Authorization = 'Bearer ' + S.token;
    const init = { method: body === undefined ? 'GET' : 'POST', headers };
    if (body !== undefined) { headers['Content-Type'] = 'application/edn'; init.body = body; }
    const r = await fetch(path, init);
    const text = await r.text();
    let data;
    try { data = JSON.parse(text); } catch (_) { throw new ApiError(r.status, `${r.status}: ${text}`); }
    if (!r.ok) {
      const err = data && data.error;
      throw new ApiError(r.status, err ? err.message : text, err ? err.kind : undefined);
    }
    return data;
  }
  const dbPath = (endpoint) => '/dbs/' + encodeURIComponent(S.db) + '/' + endpoint;
  // A body: each value is EDN text, left out when empty.
  function edn(fields) {
    const parts = [];
    for (const [k, v] of Object.entries(fields || {})) {
      if (v === undefined || v === null || v === '') continue;
      parts.push(':' + k + ' ' + v);
    }
    return '{' + parts.join(' ') + '}';
  }
  const post = (endpoint, fields) => api(dbPath(endpoint), edn(fields));
  const str = (s) => JSON.stringify(String(s));

  // ---------- values (tagged JSON) shown as EDN
  function show(v) {
    if (v === null || v === undefined) return 'nil';
    if (typeof v === 'string') return JSON.stringify(v);
    if (typeof v !== 'object') return String(v);
    if (Array.isArray(v)) return '[' + v.map(show).join(' ') + ']';
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0].startsWith('~')) {
      const t = keys[0], x = v[t];
      switch (t) {
        case '~kw': return x.startsWith(':') ? x : ':' + x;
        case '~sym': return x;
        case '~set': return '#{' + x.map(show).join(' ') + '}';
        case '~list': return '(' + x.map(show).join(' ') + ')';
        case '~map': return '{' + x.map(([a, b]) => show(a) + ' ' + show(b)).join(', ') + '}';
        case '~inst': return '#inst ' + JSON.stringify(x);
        case '~uuid': return '#uuid ' + JSON.stringify(x);
        case '~uri': return '#uri ' + JSON.stringify(x);
        case '~bytes': return '#bytes ' + JSON.stringify(x);
        case '~long': case '~double': return String(x);
        case '~bigint': return x + 'N';
        case '~bigdec': return x + 'M';
        case '~char': return '\\' + x;
        default: return '#' + t.slice(2) + ' ' + show(x);
      }
    }
    return '{' + keys.map((k) => ':' + k + ' ' + show(v[k])).join(', ') + '}';
  }
  const kw = (v) => (v && v['~kw'] ? (v['~kw'].startsWith(':') ? v['~kw'] : ':' + v['~kw']) : show(v));
  function asNumber(v) {
    if (typeof v === 'number') return v;
    if (v && typeof v === 'object' && v['~long'] !== undefined) return Number(v['~long']);
    return null;
  }
  function compare(a, b) {
    const na = asNumber(a), nb = asNumber(b);
    if (na !== null && nb !== null) return na - nb;
    if (na !== null) return -1;
    if (nb !== null) return 1;
    const sa = a && a['~inst'] ? a['~inst'] : show(a), sb = b && b['~inst'] ? b['~inst'] : show(b);
    return sa < sb ? -1 : sa > sb ? 1 : 0;
  }
  const instantText = (v) => (v && v['~inst'] ? v['~inst'].replace('T', ' ').replace(/\.\d+/, '').replace('-00:00', ' UTC') : '');

  // ---------- schema of the current database
  async function schema(refresh) {
    if (S.schema && !refresh) return S.schema;
    const r = await post('schema', {});
    const byId = new Map(), byIdent = new Map();
    for (const a of r.attributes) {
      const attr = {
        id: asNumber(a['db/id']), ident: kw(a['db/ident']), type: kw(a['db/valueType']),
        cardinality: kw(a['db/cardinality']).replace(':db.cardinality/', ''),
        unique: a['db/unique'] ? kw(a['db/unique']).replace(':db.unique/', '') : '',
        component: !!a['db/isComponent'], index: !!a['db/index'], noHistory: !!a['db/noHistory'],
        doc: a['db/doc'] || '', builtin: !!a.builtin,
      };
      byId.set(attr.id, attr);
      byIdent.set(attr.ident, attr);
    }
    S.schema = { byId, byIdent, list: [...byId.values()] };
    return S.schema;
  }
  const identOf = (a) => { const x = S.schema && S.schema.byId.get(asNumber(a)); return x ? x.ident : show(a); };
  const isRef = (a) => { const x = S.schema && (S.schema.byId.get(asNumber(a)) || S.schema.byIdent.get(a)); return !!x && x.type === ':db.type/ref'; };
  const entityLink = (id) => h('a', { href: '#/entity/' + encodeURIComponent(show(id)) }, show(id));
  // A datom value, a link when its attribute is a reference.
  const valueCell = (a, v) => (isRef(a) && asNumber(v) !== null ? entityLink(v) : h('span', { class: 'edn' }, show(v)));

  // ---------- a small EDN reader: the structure of a query, for its :find and :in
  function readEdn(text) {
    let i = 0;
    const ws = () => {
      while (i < text.length) {
        const c = text[i];
        if (c === ';') while (i < text.length && text[i] !== '\n') i++;
        else if (/[\s,]/.test(c)) i++;
        else break;
      }
    };
    const close = { '[': ']', '(': ')', '{': '}' };
    function coll(t, end, start) {
      const items = [];
      for (;;) {
        ws();
        if (i >= text.length) throw new Error(`a ${end} is missing`);
        if (text[i] === end) { i++; return { t, items, src: text.slice(start, i) }; }
        items.push(form());
      }
    }
    function form() {
      ws();
      if (i >= text.length) throw new Error('the text ends early');
      const start = i, c = text[i];
      if (c === '#' && text[i + 1] === '{') { i += 2; return coll('set', '}', start); }
      if (close[c]) { i++; return coll(c === '[' ? 'vec' : c === '(' ? 'list' : 'map', close[c], start); }
      if (c === '"') {
        i++;
        while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
        if (i >= text.length) throw new Error('a string is not closed');
        i++;
        return { t: 'atom', src: text.slice(start, i) };
      }
      if (c === '#') {
        i++;
        while (i < text.length && !/[\s,[\]{}()"]/.test(text[i])) i++;
        form();
        return { t: 'atom', src: text.slice(start, i) };
      }
      while (i < text.length && !/[\s,[\]{}()";]/.test(text[i])) i++;
      if (i === start) throw new Error(`unexpected ${c} at character ${i + 1}`);
      return { t: 'atom', src: text.slice(start, i) };
    }
    const f = form();
    ws();
    if (i < text.length) throw new Error(`text after the form at character ${i + 1}`);
    return f;
  }
  function querySections(text) {
    const q = readEdn(text), out = {};
    if (q.t === 'vec') {
      let cur = null;
      for (const it of q.items) {
        if (it.t === 'atom' && it.src.startsWith(':')) { cur = it.src.slice(1); out[cur] = []; }
        else if (cur) out[cur].push(it);
      }
    } else if (q.t === 'map') {
      for (let k = 0; k + 1 < q.items.length; k += 2) {
        const v = q.items[k + 1];
        out[q.items[k].src.slice(1)] = v.t === 'vec' || v.t === 'list' ? v.items : [v];
      }
    } else throw new Error('a query is a vector [:find …] or a map {:find …}');
    if (!out.find) throw new Error('the query has no :find');
    return out;
  }
  // The shape of the answer by the :find spec, and its column names.
  function findShape(find) {
    const last = find[find.length - 1];
    if (find.length === 2 && last.t === 'atom' && last.src === '.') return { kind: 'scalar', columns: [find[0].src] };
    if (find.length === 1 && find[0].t === 'vec') {
      const inner = find[0].items;
      if (inner.length === 2 && inner[1].src === '...') return { kind: 'collection', columns: [inner[0].src] };
      return { kind: 'tuple', columns: inner.map((x) => x.src) };
    }
    return { kind: 'relation', columns: find.map((x) => x.src) };
  }
  function rowsOf(result, shape) {
    if (result === null) return [];
    if (shape.kind === 'scalar') return [[result]];
    if (shape.kind === 'tuple') return [result];
    if (result && result['~set']) result = result['~set'];
    if (shape.kind === 'collection') return result.map((v) => [v]);
    return result;
  }

  // ---------- tables: sortable columns, paged rows
  function table({ label, columns, rows, cell, pageSize }) {
    const size = pageSize || PAGE_SIZE;
    let order = rows.map((_, k) => k), sortCol = -1, dir = 1, page = 0;
    const wrap = h('div', { class: 'table' });
    function render() {
      const pages = Math.max(1, Math.ceil(rows.length / size));
      page = Math.min(page, pages - 1);
      const head = h('tr', {}, columns.map((c, k) => h('th', {
        scope: 'col', 'aria-sort': sortCol === k ? (dir > 0 ? 'ascending' : 'descending') : 'none',
      }, h('button', {
        type: 'button', 'aria-label': `sort by ${c}`,
        onclick: () => { dir = sortCol === k ? -dir : 1; sortCol = k; order.sort((x, y) => dir * compare(rows[x][k], rows[y][k]) || x - y); render(); $('th button', wrap.querySelectorAll('th')[k]).focus(); },
      }, c, sortCol === k ? (dir > 0 ? ' ▲' : ' ▼') : ''))));
      const body = order.slice(page * size, page * size + size).map((r) =>
        h('tr', {}, rows[r].map((v, k) => h('td', {}, cell ? cell(v, k, rows[r]) : show(v)))));
      const pager = h('div', { class: 'pager', role: 'navigation', 'aria-label': `${label} pages` },
        h('button', { type: 'button', class: 'plain', disabled: page === 0, onclick: () => { page = 0; render(); } }, 'First'),
        h('button', { type: 'button', class: 'plain', disabled: page === 0, onclick: () => { page--; render(); } }, 'Previous'),
        h('span', { class: 'page-of' }, `page ${page + 1} of ${pages}`),
        h('button', { type: 'button', class: 'plain', disabled: page >= pages - 1, onclick: () => { page++; render(); } }, 'Next'),
        h('button', { type: 'button', class: 'plain', disabled: page >= pages - 1, onclick: () => { page = pages - 1; render(); } }, 'Last'));
      put(wrap,
        h('table', { 'aria-label': label }, h('thead', {}, head), h('tbody', {}, body)),
        rows.length > size ? pager : null);
    }
    render();
    return wrap;
  }

  // ---------- basis: latest, as-of, since, history
  function basisControl() {
    const kind = h('select', { class: 'basis-kind' },
      h('option', { value: 'latest' }, 'latest'), h('option', { value: 'as-of' }, 'as of'),
      h('option', { value: 'since' }, 'since'), h('option', { value: 'history' }, 'history'),
      h('option', { value: 'as-of-history' }, 'history as of'));
    const point = h('input', { class: 'basis-point', type: 'text', size: 26, placeholder: 't, tx id or 2026-01-31T10:00Z', spellcheck: 'false' });
    const el = h('div', { class: 'bar' }, field('Basis', kind), field('Point in time', point, 'a t, a tx id, or an instant'));
    const pointEdn = () => {
      const text = point.value.trim();
      if (!text) throw new Error('this basis needs a point in time: a t, a tx id or an instant');
      return /^\d+$/.test(text) ? text : str(text);
    };
    return {
      el,
      fields() {
        switch (kind.value) {
          case 'as-of': return { 'as-of': pointEdn() };
          case 'since': return { since: pointEdn() };
          case 'history': return { history: 'true' };
          case 'as-of-history': return { 'as-of': pointEdn(), history: 'true' };
          default: return {};
        }
      },
      describe() { return kind.value === 'latest' ? 'latest' : kind.value + (point.value ? ' ' + point.value : ''); },
    };
  }

  // ---------- plots (hand-drawn SVG)
  function barsPlot(label, items) {
    const rowH = 18, left = 190, width = 660, top = 6;
    const max = Math.max(1, ...items.map((x) => x[1]));
    const height = top * 2 + rowH * items.length;
    const bars = items.map(([name, n], k) => {
      const y = top + k * rowH, w = Math.max(1, ((width - left - 60) * n) / max);
      return `<text x="${left - 6}" y="${y + 13}" text-anchor="end">${esc(name)}</text>` +
        `<rect x="${left}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="#2f5f9e"><title>${esc(name)}: ${n}</title></rect>` +
        `<text x="${(left + w + 4).toFixed(1)}" y="${y + 13}">${n}</text>`;
    }).join('');
    return `<svg class="plot" role="img" aria-label="${esc(label)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${bars}</svg>`;
  }
  function ratePlot(label, buckets, seconds) {
    const width = 660, height = 200, left = 40, bottom = 30, top = 10, right = 10;
    if (!buckets.length) return `<p class="hint">No transactions yet.</p>`;
    const ms = seconds * 1000;
    const times = buckets.map((b) => Date.parse(b[0]['~inst']));
    const to = Math.max(...times) + ms, from = Math.min(Math.min(...times), to - 60 * ms);
    const max = Math.max(...buckets.map((b) => asNumber(b[1])));
    const span = Math.max(ms, to - from), plotW = width - left - right, plotH = height - top - bottom;
    const barW = Math.max(2, (plotW * ms) / span - 1);
    const bars = buckets.map((b, k) => {
      const n = asNumber(b[1]), x = left + (plotW * (times[k] - from)) / span, hgt = Math.max(1, (plotH * n) / max);
      return `<rect x="${x.toFixed(1)}" y="${(top + plotH - hgt).toFixed(1)}" width="${barW.toFixed(1)}" height="${hgt.toFixed(1)}" fill="#2f5f9e"><title>${esc(instantText(b[0]))}: ${n}</title></rect>`;
    }).join('');
    const iso = (t) => new Date(t).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
    const axis = `<line x1="${left}" y1="${top + plotH}" x2="${width - right}" y2="${top + plotH}" stroke="#434852"/>` +
      `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#434852"/>` +
      `<text x="${left - 4}" y="${top + 10}" text-anchor="end">${max}</text><text x="${left - 4}" y="${top + plotH}" text-anchor="end">0</text>` +
      `<text x="${left}" y="${height - 8}">${esc(iso(from))}</text><text x="${width - right}" y="${height - 8}" text-anchor="end">${esc(iso(to))}</text>`;
    return `<svg class="plot" role="img" aria-label="${esc(label)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${axis}${bars}</svg>`;
  }
  // Transactions per minute; per hour or per day when a database's log
  // spans more minutes than the server answers buckets at once.
  async function txRate(what) {
    const units = [[60, 'minute'], [3600, 'hour'], [86400, 'day']];
    for (const [seconds, unit] of units) {
      try {
        const rate = await post('tx-rate', { bucket: seconds });
        return ratePlot(`transactions per ${unit}${what}`, rate.buckets, seconds) +
          (unit === 'minute' ? '' : `<p class="hint">per ${unit}: the log spans too many minutes to draw one bar each</p>`);
      } catch (e) {
        if (e.kind !== 'too-large' || seconds === 86400) throw e;
      }
    }
    return '';
  }
  function plotBox(svg) { const d = h('div', { class: 'plot-box' }); d.innerHTML = svg; return d; }

  // ---------- pages
  const pages = {};

  pages.dbs = async (main) => {
    main.append(h('h2', {}, 'Databases'));
    const status = await api('/status');
    S.status = status;
    main.append(h('p', { class: 'hint' }, `accrete ${status.version}, signed in as `, h('strong', {}, status.principal)));
    const rows = status.dbs.map((d) => [d.name, d.role, d['basis-t'], d.transactor || '', d.epoch === undefined ? '' : d.epoch, d.ended ? 'ended: ' + d.ended : 'followed', '…']);
    const holder = h('div');
    main.append(holder);
    const draw = () => put(holder, table({
      label: 'Databases', columns: ['name', 'your role', 'basis t', 'transactor', 'epoch', 'state', 'datoms'], rows,
      cell: (v, k, row) => (k === 0 ? h('a', { href: '#/schema', onclick: () => selectDb(row[0]) }, v) : String(v)),
    }));
    draw();
    await Promise.all(status.dbs.map(async (d, k) => {
      try {
        const stats = await api('/dbs/' + encodeURIComponent(d.name) + '/stats', '{}');
        rows[k][6] = asNumber(stats.datoms);
      } catch (e) { rows[k][6] = e.message; }
    }));
    draw();
    if (S.db) {
      main.append(h('h3', {}, `Transactions per minute: ${S.db}`));
      main.append(plotBox(await txRate(` of ${S.db}`)));
    }
  };

  pages.schema = async (main) => {
    main.append(h('h2', {}, 'Schema'));
    const sc = await schema(true);
    const namespaces = [...new Set(sc.list.map((a) => a.ident.slice(1).split('/')[0]))].sort();
    const ns = h('select', {}, h('option', { value: '' }, 'every namespace'), namespaces.map((n) => h('option', { value: n }, n)));
    const text = h('input', { type: 'search', placeholder: 'part of an ident or doc' });
    const system = h('input', { type: 'checkbox' });
    const stats = await post('stats', {});
    const counts = new Map(stats.attributes.map(([a, n]) => [kw(a), asNumber(n)]));
    main.append(h('form', { class: 'bar', onsubmit: (e) => e.preventDefault() },
      field('Namespace', ns), field('Filter', text),
      h('div', { class: 'field' }, h('span', { class: 'label' }, 'System'), h('label', {}, system, ' show the built-in attributes'))),
    h('p', { class: 'hint' }, `${asNumber(stats.datoms)} datoms at basis t ${stats['basis-t']}.`));
    const holder = h('div'), plot = h('div');
    main.append(holder, h('h3', {}, 'Datoms per attribute'), plot);
    const draw = () => {
      const q = text.value.trim().toLowerCase();
      const shown = sc.list
        .filter((a) => system.checked || !a.builtin)
        .filter((a) => !ns.value || a.ident.slice(1).split('/')[0] === ns.value)
        .filter((a) => !q || a.ident.toLowerCase().includes(q) || a.doc.toLowerCase().includes(q))
        .sort((a, b) => (a.ident < b.ident ? -1 : 1));
      const rows = shown.map((a) => [a.ident, a.type.replace(':db.type/', ''), a.cardinality, a.unique, [a.component && 'component', a.index && 'indexed', a.noHistory && 'no history'].filter(Boolean).join(', '), a.doc, counts.get(a.ident) || 0, a.id]);
      put(holder, h('p', { class: 'hint', 'aria-live': 'polite' }, `${rows.length} attributes`), table({
        label: 'Attributes', columns: ['ident', 'type', 'cardinality', 'unique', 'flags', 'doc', 'datoms'], rows: rows.map((r) => r.slice(0, 7)),
        pageSize: 100,
        cell: (v, k, row) => (k === 0 ? h('a', { href: '#/entity/' + encodeURIComponent(row[0]) }, v) : String(v)),
      }));
      const bars = rows.filter((r) => r[6] > 0).sort((a, b) => b[6] - a[6]).slice(0, 30).map((r) => [r[0], r[6]]);
      plot.innerHTML = bars.length ? barsPlot('datoms per attribute', bars) : '<p class="hint">No datoms.</p>';
    };
    for (const c of [ns, text, system]) c.addEventListener('input', draw);
    draw();
  };

  function loadHistory() {
    try { return JSON.parse(localStorage.getItem(HISTORY_KEY) || '[]'); } catch (_) { return []; }
  }
  function remember(entry) {
    const same = (x) => x.query === entry.query && JSON.stringify(x.inputs) === JSON.stringify(entry.inputs) && x.db === entry.db;
    const list = [entry, ...loadHistory().filter((x) => !same(x))].slice(0, 50);
    localStorage.setItem(HISTORY_KEY, JSON.stringify(list));
  }

  pages.query = async (main) => {
    main.append(h('h2', {}, 'Query'));
    const last = loadHistory()[0];
    const query = h('textarea', { id: 'query-text', rows: 6, spellcheck: 'false', 'aria-describedby': 'query-hint' },
      last ? last.query : '[:find ?e ?ident :where [?e :db/ident ?ident]]');
    const inputsBox = h('div', { class: 'inputs' });
    const kept = Object.assign({}, last ? last.inputs : {});
    const basis = basisControl();
    const run = h('button', { type: 'submit', id: 'run-query' }, 'Run');
    const out = h('div', { class: 'results', id: 'results', 'aria-live': 'polite' });
    const historyList = h('ul', { class: 'history-list', 'aria-label': 'Query history' });
    let slots = [];
    function drawInputs() {
      let sections;
      try { sections = querySections(query.value); } catch (_) { return; }
      const forms = (sections.in || []).map((f) => f.src).filter((s) => s !== '$');
      if (JSON.stringify(forms) === JSON.stringify(slots.map((s) => s.name))) return;
      for (const s of slots) kept[s.name] = s.el.value;
      slots = forms.map((name, k) => {
        const el = h('textarea', { id: 'input-' + k, rows: name === '%' ? 5 : 1, spellcheck: 'false', class: 'input' }, kept[name] || '');
        return { name, el };
      });
      put(inputsBox, slots.length ? h('h3', {}, 'Inputs') : null,
        slots.map((s) => field(s.name === '%' ? 'Rules (%)' : `Input ${s.name}`, s.el,
          s.name === '%' ? 'a vector of rules, EDN' : 'EDN: "text", 42, :kw, [:attr value], [a b …]')));
    }
    query.addEventListener('input', drawInputs);
    query.addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); } });
    drawInputs();
    async function execute() {
      put(out, h('p', { class: 'hint' }, 'Running…'));
      const started = performance.now();
      try {
        const sections = querySections(query.value);
        const shape = findShape(sections.find);
        const inputs = {};
        const args = slots.map((s) => {
          const v = s.el.value.trim();
          if (!v) throw new Error(`the input ${s.name} is empty`);
          inputs[s.name] = v;
          return v;
        });
        const r = await post('q', Object.assign({ query: query.value, args: '[' + args.join(' ') + ']' }, basis.fields()));
        const rows = rowsOf(r.result, shape);
        const took = Math.round(performance.now() - started);
        remember({ db: S.db, query: query.value, inputs, at: new Date().toISOString() });
        drawHistory();
        put(out,
          h('p', { class: 'summary' }, h('strong', { class: 'row-count' }, `${rows.length} ${rows.length === 1 ? 'row' : 'rows'}`),
            ` at basis t ${r['basis-t']}${r['as-of-t'] !== undefined ? ', as of t ' + r['as-of-t'] : ''}${r['since-t'] !== undefined ? ', since t ' + r['since-t'] : ''}${r.history ? ', history' : ''} · ${took} ms`),
          table({ label: 'Results', columns: shape.columns, rows, cell: (v) => (asNumber(v) !== null && asNumber(v) > 0xfffff ? entityLink(v) : h('span', { class: 'edn' }, show(v))) }));
      } catch (e) { failure(out, e); }
    }
    const form = h('form', { onsubmit: (e) => { e.preventDefault(); execute(); } },
      field('Query (EDN)', query), h('p', { class: 'hint', id: 'query-hint' }, 'Ctrl+Enter runs it. Inputs appear for each form of :in after $; % takes rules.'),
      inputsBox, basis.el, run);
    function drawHistory() {
      put(historyList, ...loadHistory().map((x) => h('li', {},
        h('button', { type: 'button', class: 'plain', onclick: () => { query.value = x.query; Object.assign(kept, x.inputs); slots = []; drawInputs(); for (const s of slots) s.el.value = x.inputs[s.name] || ''; query.focus(); } }, 'Load'),
        h('code', { title: x.query }, x.query.replace(/\s+/g, ' ')), h('span', { class: 'hint' }, `${x.db} · ${x.at.slice(0, 16).replace('T', ' ')}`))));
    }
    drawHistory();
    main.append(h('div', { class: 'two' }, h('div', {}, form), h('section', { class: 'panel', 'aria-labelledby': 'hist-title' },
      h('h3', { id: 'hist-title' }, 'History (this browser)'), historyList,
      h('button', { type: 'button', class: 'plain', onclick: () => { localStorage.removeItem(HISTORY_KEY); drawHistory(); } }, 'Clear history'))),
    h('h3', {}, 'Results'), out);
  };

  // Transaction metadata (instant, principal, id) by tx id, from their entities.
  async function txMeta(txs) {
    if (!txs.length) return new Map();
    const r = await post('pull-many', { pattern: '[*]', eids: '[' + txs.map(show).join(' ') + ']' });
    return new Map(txs.map((tx, k) => [asNumber(tx), r.result[k] || {}]));
  }
  function txHeader(t, tx, meta) {
    return h('div', { class: 'meta' },
      h('strong', {}, `t ${t}`), ' · tx ', entityLink(tx),
      meta['db/txInstant'] ? [' · ', h('time', { datetime: meta['db/txInstant']['~inst'] }, instantText(meta['db/txInstant']))] : null,
      meta['tx/principal'] ? [' · by ', h('strong', { class: 'principal' }, meta['tx/principal'])] : null,
      meta['tx/id'] ? [' · id ', h('code', {}, show(meta['tx/id']))] : null);
  }

  pages.entity = async (main, arg) => {
    main.append(h('h2', {}, 'Entity'));
    await schema();
    const ref = h('input', { id: 'entity-ref', type: 'text', size: 48, spellcheck: 'false', value: arg || '' });
    main.append(h('form', {
      class: 'bar', onsubmit: (e) => { e.preventDefault(); location.hash = '#/entity/' + encodeURIComponent(ref.value.trim()); },
    }, field('Entity', ref, 'an id, an ident (:user/email) or a lookup ref [:user/email "ed@example.com"]'), h('button', { type: 'submit' }, 'Show')));
    if (!arg) return;
    const body = h('div');
    main.append(body);
    let r;
    try { r = await post('entity', { eid: arg, history: 'true' }); } catch (e) { failure(body, e); return; }
    if (!r.entity) { body.append(h('p', { role: 'status' }, `No entity ${arg} at basis t ${r['basis-t']}.`)); return; }
    const id = r['db/id'];
    body.append(h('p', { class: 'hint' }, 'Entity ', h('strong', { class: 'entity-id' }, show(id)), ` at basis t ${r['basis-t']}`));
    // Its attributes, references out as links.
    const attrRows = [];
    for (const [k, v] of Object.entries(r.entity).sort()) {
      if (k === 'db/id') continue;
      const values = Array.isArray(v) && !(S.schema.byIdent.get(':' + k) || {}).type?.includes('tuple') ? v : [v];
      for (const x of values) attrRows.push([':' + k, x]);
    }
    const valueOf = (a, v) => (v && typeof v === 'object' && v['db/id'] !== undefined ? [entityLink(v['db/id']), Object.keys(v).length > 1 ? h('span', { class: 'edn' }, ' ' + show(v)) : null] : valueCell(a, v));
    const incoming = await post('datoms', { index: ':vaet', components: '[' + show(id) + ']', limit: 500 });
    const inRows = incoming.datoms.map((d) => [d[0], identOf(d[1])]);
    body.append(h('div', { class: 'two' },
      h('section', { 'aria-labelledby': 'attrs-title' }, h('h3', { id: 'attrs-title' }, 'Attributes'),
        table({ label: 'Attributes', columns: ['attribute', 'value'], rows: attrRows, pageSize: 200, cell: (v, k, row) => (k === 0 ? v : valueOf(row[0], v)) })),
      h('section', { 'aria-labelledby': 'refs-title' }, h('h3', { id: 'refs-title' }, 'Referenced by'),
        inRows.length ? table({ label: 'Referenced by', columns: ['entity', 'attribute'], rows: inRows, cell: (v, k) => (k === 0 ? entityLink(v) : v) }) : h('p', { class: 'hint' }, 'Nothing refers to it.'),
        incoming['next-cursor'] ? h('p', { class: 'hint' }, 'The first 500 shown; the Indexes page (VAET) has the rest.') : null)));
    // Its history: every assertion and retraction, by transaction.
    const byTx = new Map();
    for (const [a, v, tx, added] of r.history) {
      const key = asNumber(tx);
      if (!byTx.has(key)) byTx.set(key, { tx, datoms: [] });
      byTx.get(key).datoms.push([a, v, added]);
    }
    const txs = [...byTx.values()].sort((x, y) => asNumber(y.tx) - asNumber(x.tx));
    const meta = await txMeta(txs.map((x) => x.tx));
    body.append(h('h3', {}, 'History'), h('ol', { class: 'timeline', 'aria-label': 'History of the entity, newest first' },
      txs.map(({ tx, datoms }) => h('li', { class: 'tx' },
        // t is the counter part of a tx id: its low 42 bits (model::tx_to_t).
        txHeader(asNumber(tx) % 0x40000000000, tx, meta.get(asNumber(tx)) || {}),
        h('ul', { class: 'datoms' }, datoms.map(([a, v, added]) => h('li', { class: added ? 'assert' : 'retract' },
          h('span', { class: added ? 'op-add' : 'op-retract', 'aria-label': added ? 'asserted' : 'retracted' }, added ? '+ ' : '− '),
          kw(a), ' ', valueCell(kw(a), v))))))));
  };

  function txCard(entry, meta, live) {
    const data = entry.data || entry['tx-data'];
    return h('li', { class: 'tx' + (live ? ' live-item' : ''), 'data-t': entry.t },
      txHeader(entry.t, entry.tx, meta),
      h('table', { class: 'datoms', 'aria-label': `datoms of t ${entry.t}` },
        h('thead', {}, h('tr', {}, ['entity', 'attribute', 'value', 'op'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, data.map(([e, a, v, , added]) => h('tr', {},
          h('td', {}, entityLink(e)), h('td', {}, identOf(a)), h('td', {}, valueCell(a, v)),
          h('td', { class: added ? 'op-add' : 'op-retract' }, added ? 'added' : 'retracted'))))));
  }
  // The metadata of a log entry from its own datoms (the tx entity's).
  function ownMeta(entry) {
    const meta = {}, data = entry.data || entry['tx-data'];
    for (const [e, a, v] of data) {
      if (asNumber(e) !== asNumber(entry.tx)) continue;
      const name = identOf(a).slice(1);
      meta[name] = v;
    }
    return meta;
  }

  pages.txs = async (main) => {
    main.append(h('h2', {}, 'Transactions'));
    const sc = await schema();
    const from = h('input', { type: 'datetime-local', step: 1 });
    const to = h('input', { type: 'datetime-local', step: 1 });
    const attr = h('input', { type: 'text', list: 'attr-idents', size: 24, placeholder: ':user/email', spellcheck: 'false' });
    const idents = h('datalist', { id: 'attr-idents' }, sc.list.map((a) => h('option', { value: a.ident })));
    const plot = h('div');
    const live = h('ol', { class: 'timeline', id: 'live-txs', 'aria-label': 'Transactions committed while this page is open, newest first', 'aria-live': 'polite' });
    const list = h('ol', { class: 'timeline', 'aria-label': 'The log' });
    const more = h('div');
    const write = S.role === 'write' || S.role === 'admin';
    main.append(h('section', { 'aria-labelledby': 'rate-title' }, h('h3', { id: 'rate-title' }, 'Transactions per minute'), plot));
    if (write) main.append(transactBox());
    main.append(h('section', { 'aria-labelledby': 'live-title' }, h('h3', { id: 'live-title' }, 'Live'),
      h('p', { class: 'hint' }, 'Transactions appear here as they commit (the report stream).'), live));
    const filters = h('form', { class: 'bar', onsubmit: (e) => { e.preventDefault(); load(null, true); } },
      field('From', from), field('To', to), field('Attribute', attr), idents, h('button', { type: 'submit' }, 'Filter'));
    main.append(h('section', { 'aria-labelledby': 'log-title' }, h('h3', { id: 'log-title' }, 'The log'), filters, list, more));
    const iso = (input) => (input.value ? str(new Date(input.value).toISOString()) : '');
    async function load(start, fresh) {
      try {
        const r = await post('tx-range', { start: start === null ? iso(from) || '1' : start, end: iso(to), attr: attr.value.trim(), limit: 25 });
        if (fresh) put(list);
        for (const entry of r.txs) list.append(txCard(entry, ownMeta(entry), false));
        if (fresh && !r.txs.length) list.append(h('li', {}, 'No transactions match.'));
        put(more, r['next-start'] !== null && r['next-start'] !== undefined
          ? h('button', { type: 'button', class: 'plain', onclick: () => load(r['next-start'], false) }, 'More')
          : null);
      } catch (e) { failure(more, e); }
    }
    let drawn = 0;
    async function drawRate() {
      drawn = Date.now();
      try {
        plot.innerHTML = await txRate('');
      } catch (e) { failure(plot, e); }
    }
    S.onTx.push((report) => {
      const wanted = attr.value.trim();
      const entry = { t: report.t, tx: report.tx, data: report['tx-data'] };
      if (wanted && !entry.data.some((d) => identOf(d[1]) === wanted)) return;
      live.prepend(txCard(entry, ownMeta(entry), true));
      while (live.children.length > 100) live.lastChild.remove();
      if (Date.now() - drawn > 2000) drawRate();
    });
    await Promise.all([drawRate(), load(null, true)]);
  };

  function transactBox() {
    const data = h('textarea', { id: 'tx-data', rows: 4, spellcheck: 'false' }, '[{:db/doc "hello from the console"}]');
    const out = h('div', { 'aria-live': 'polite' });
    return h('section', { class: 'panel', id: 'transact', 'aria-labelledby': 'transact-title' },
      h('h3', { id: 'transact-title' }, 'Transact'),
      h('form', {
        onsubmit: async (e) => {
          e.preventDefault();
          try {
            const r = await post('transact', { 'tx-data': data.value });
            put(out, h('p', { role: 'status' }, `Committed at t ${r.t} (tx ${show(r.tx)}, id ${show(r['tx-id'])}); tempids ${show(r.tempids)}.`));
          } catch (err) { failure(out, err); }
        },
      }, field('Transaction data (EDN)', data), h('button', { type: 'submit' }, 'Transact')), out);
  }

  pages.indexes = async (main) => {
    main.append(h('h2', {}, 'Indexes'));
    await schema();
    const index = h('select', { id: 'index-select' }, ['eavt', 'aevt', 'avet', 'vaet'].map((x) => h('option', { value: x }, x.toUpperCase())));
    const start = h('input', { id: 'index-start', type: 'text', size: 40, spellcheck: 'false', placeholder: '[:user/email]' });
    const prefix = h('input', { type: 'checkbox' });
    const limit = h('select', {}, [25, 50, 100, 500].map((n) => h('option', { value: n, selected: n === 50 }, n)));
    const basis = basisControl();
    const out = h('div', { id: 'index-page', 'aria-live': 'polite' });
    let cursors = [null];
    main.append(h('form', { onsubmit: (e) => { e.preventDefault(); cursors = [null]; load(); } },
      h('div', { class: 'bar' }, field('Index', index), field('Start at', start, 'components in index order, EDN: [e a v tx], [a e …], [a v …], [v a …]'),
        field('Datoms per page', limit),
        h('div', { class: 'field' }, h('span', { class: 'label' }, 'Range'), h('label', {}, prefix, ' only datoms that match the start'))),
      basis.el, h('button', { type: 'submit' }, 'Browse')), out);
    async function load() {
      try {
        const cursor = cursors[cursors.length - 1];
        const r = await post(prefix.checked ? 'datoms' : 'seek-datoms', Object.assign({
          index: ':' + index.value, components: start.value.trim() || '[]', limit: limit.value, cursor: cursor ? show(cursor) : '',
        }, basis.fields()));
        const rows = r.datoms.map(([e, a, v, tx, added]) => [e, identOf(a), v, tx, added]);
        const next = r['next-cursor'];
        put(out,
          h('p', { class: 'hint' }, `${index.value.toUpperCase()} page ${cursors.length} · ${rows.length} datoms · basis t ${r['basis-t']}`),
          table({ label: 'Datoms', columns: ['e', 'a', 'v', 'tx', 'added'], rows, pageSize: 1000, cell: (v, k, row) => (k === 0 || k === 3 ? entityLink(v) : k === 2 ? valueCell(row[1], v) : String(v)) }),
          h('div', { class: 'pager', role: 'navigation', 'aria-label': 'index pages' },
            h('button', { type: 'button', class: 'plain', disabled: cursors.length === 1, onclick: () => { cursors.pop(); load(); } }, 'Previous page'),
            h('button', { type: 'button', class: 'plain', disabled: !next, onclick: () => { cursors.push(next); load(); } }, 'Next page')));
      } catch (e) { failure(out, e); }
    }
    await load();
  };

  // ---------- the report stream (fetch, so the token goes as a header)
  function setLive(on) {
    const el = $('#live-state');
    el.textContent = on ? 'live' : 'offline';
    el.classList.toggle('on', on);
  }
  function setBasis(t) { S.basis = t; $('#basis-t').textContent = String(t); }
  function follow() {
    if (S.stream) S.stream.abort();
    const stop = new AbortController();
    S.stream = stop;
    let last = null;
    (async () => {
      while (!stop.signal.aborted) {
        try {
          const headers = { Accept: 'application/json' };
          if (S.token) headers.Authorization = 'Bearer ' + S.token;
          if (last !== null) headers['Last-Event-ID'] = String(last);
          const r = await fetch(dbPath('reports'), { headers, signal: stop.signal });
          if (!r.ok) throw new Error(`the report stream: ${r.status}`);
          setLive(true);
          const reader = r.body.getReader();
          const decoder = new TextDecoder();
          let buffer = '';
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, '\n');
            let k;
            while ((k = buffer.indexOf('\n\n')) >= 0) {
              const block = buffer.slice(0, k);
              buffer = buffer.slice(k + 2);
              const ev = { data: [] };
              for (const line of block.split('\n')) {
                const c = line.indexOf(':');
                if (c === 0) continue;
                const name = c < 0 ? line : line.slice(0, c), val = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
                if (name === 'data') ev.data.push(val); else ev[name] = val;
              }
              if (ev.event === 'tx') {
                const report = JSON.parse(ev.data.join('\n'));
                last = Number(ev.id);
                received(report);
              } else if (ev.event === 'error') {
                throw new Error(JSON.parse(ev.data.join('\n')).error.message);
              }
            }
          }
        } catch (e) {
          if (stop.signal.aborted) return;
          setLive(false);
        }
        setLive(false);
        await new Promise((done) => setTimeout(done, 1000));
      }
    })();
  }
  function received(report) {
    setBasis(report.t);
    if (S.schema && report['tx-data'].some((d) => !S.schema.byId.has(asNumber(d[1])) || identOf(d[1]) === ':db/ident')) S.schema = null;
    const refresh = S.schema ? Promise.resolve() : schema().catch(() => {});
    refresh.then(() => { for (const f of S.onTx) f(report); });
  }

  // ---------- session, databases, routing
  function selectDb(name) {
    if (name === S.db) return;
    S.db = name;
    S.schema = null;
    sessionStorage.setItem('accrete.db', name);
    $('#db-select').value = name;
    const d = S.status.dbs.find((x) => x.name === name);
    S.role = d ? d.role : '';
    setBasis(d ? d['basis-t'] : '–');
    follow();
  }
  async function route() {
    const [, page = 'dbs', ...rest] = (location.hash || '#/dbs').slice(1).split('/');
    const name = pages[page] ? page : 'dbs';
    const main = $('#main');
    S.onTx = [];
    S.page = name;
    document.body.removeAttribute('data-ready');
    for (const a of document.querySelectorAll('#nav a')) {
      if (a.dataset.page === name) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    document.title = `${name} · accrete console`;
    put(main);
    try {
      await pages[name](main, decodeURIComponent(rest.join('/')));
    } catch (e) {
      if (e.status === 401) { signOut(e.message); return; }
      main.append(h('p', { class: 'error-inline', role: 'alert' }, `${e.kind ? e.kind + ': ' : ''}${e.message}`));
    }
    document.body.dataset.ready = name;
    // When the page was drawn, for whoever measures (the browser tests).
    performance.mark('ready:' + name);
  }
  function signOut(why) {
    S.token = '';
    sessionStorage.removeItem('accrete.token');
    if (S.stream) S.stream.abort();
    $('#login').hidden = false;
    $('#sign-out').hidden = true;
    $('#who').textContent = '';
    if (why) $('#login-why').textContent = why;
    $('#main').replaceChildren();
    document.body.dataset.ready = 'login';
    $('#token').focus();
  }
  function wire() {
    $('#login-form').addEventListener('submit', (e) => {
      e.preventDefault();
      S.token = $('#token').value.trim();
      sessionStorage.setItem('accrete.token', S.token);
      $('#token').value = '';
      begin();
    });
    $('#sign-out').addEventListener('click', () => signOut('Signed out.'));
    $('#db-select').addEventListener('change', (e) => { selectDb(e.target.value); route(); });
    window.addEventListener('hashchange', () => route().then(() => $('#main').focus()));
    // Let go of the report stream's connection when the page goes away.
    window.addEventListener('pagehide', () => { if (S.stream) S.stream.abort(); });
    begin();
  }
  async function begin() {
    let status;
    try { status = await api('/status'); } catch (e) {
      if (e.status === 401) { signOut(S.token ? `The token was refused: ${e.message}` : null); return; }
      showError(e);
      return;
    }
    S.status = status;
    $('#login').hidden = true;
    $('#sign-out').hidden = !S.token;
    $('#who').textContent = status.principal;
    const select = $('#db-select');
    put(select, ...status.dbs.map((d) => h('option', { value: d.name }, d.name)));
    const wanted = status.dbs.some((d) => d.name === S.db) ? S.db : (status.dbs[0] || {}).name || '';
    S.db = '';
    if (wanted) selectDb(wanted);
    await route();
  }
  document.addEventListener('DOMContentLoaded', wire);
})();
