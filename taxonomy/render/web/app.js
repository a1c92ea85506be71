// mimtax interactive dendrogram: pan and zoom, collapse and expand, search, colour, filters, survey overlay.
// All data is inline (script#data); the page fetches nothing.
(function () {
  "use strict";
  const DATA = JSON.parse(document.getElementById("data").textContent);
  const meta = DATA.meta, papers = DATA.papers, merges = DATA.merges, n = papers.length;
  const PALETTE = meta.palette, GREY = meta.unlabelled;
  const RESULTS = DATA.results || [], resultsOf = d3.group(RESULTS, r => r.id);
  const ROW = 15, LEAF_GAP = 8, TREE_W = 520, MARGIN = 12;
  const NAMES = DATA.names || {};  // the top merges' names, each with words no higher name shows
  const MATCHES = DATA.matches || {};  // merges whose papers match a survey node (F1 >= 0.5): "A: Audio and Speech"

  // ---- the tree: leaves 0..n-1, merge r is node n + r (SciPy's numbering) ----
  const total = Math.max(2 * n - 1, n);
  const kids = new Array(total).fill(null), parent = new Int32Array(total).fill(-1);
  const height = new Float64Array(total), size = new Int32Array(total).fill(1);
  merges.forEach(([a, b, h, s], r) => { const v = n + r; kids[v] = [a, b]; parent[a] = v; parent[b] = v; height[v] = h; size[v] = s; });
  const root = n > 1 ? total - 1 : 0;
  // leaf order (left child first) and each node's contiguous range [lo, hi) in it
  const order = [], lo = new Int32Array(total), hi = new Int32Array(total), pos = new Int32Array(n);
  (function walk() {
    const stack = [[root, false]];
    while (stack.length) {
      const [v, done] = stack.pop();
      if (v < n) { lo[v] = order.length; pos[v] = order.length; order.push(v); hi[v] = order.length; continue; }
      if (done) { lo[v] = lo[kids[v][0]]; hi[v] = hi[kids[v][1]]; continue; }
      stack.push([v, true], [kids[v][1], false], [kids[v][0], false]);
    }
  })();
  const members = v => order.slice(lo[v], hi[v]);
  const prefix = flags => { const c = new Int32Array(n + 1); for (let i = 0; i < n; i++) c[i + 1] = c[i] + (flags[order[i]] ? 1 : 0); return c; };
  const within = (c, v) => c[hi[v]] - c[lo[v]];

  // ---- taxonomies ----
  const taxa = {};
  DATA.taxonomies.forEach(t => {
    const nodes = {}; t.nodes.forEach(([id, name, par, depth]) => { nodes[id] = { id, name, parent: par, depth }; });
    taxa[t.id] = Object.assign({}, t, { byId: nodes });
  });
  const path = (tax, id) => { const out = []; let cur = taxa[tax].byId[id]; while (cur) { out.unshift(cur); cur = taxa[tax].byId[cur.parent]; } return out; };
  const topLabel = (p, tax) => { const ls = p.l[tax] || []; return ls.length ? path(tax, ls[0])[0].id : ""; };
  const carries = (p, tax, node) => (p.l[tax] || []).some(id => path(tax, id).some(x => x.id === node));

  // ---- state ----
  const open = new Uint8Array(total);
  let selected = null, query = "", surveyNode = "", colourBy = "", matchCount = null, surveyCount = null;
  const state = { match: new Uint8Array(n), pass: new Uint8Array(n).fill(1), survey: new Uint8Array(n) };
  function cutAt(k) {
    open.fill(0);
    for (let r = Math.max(0, n - k); r < n - 1; r++) open[n + r] = 1;
  }
  function expand(v) {
    open[v] = 1;
    const stack = kids[v] ? kids[v].slice() : [];
    while (stack.length) {
      const c = stack.pop();
      if (c < n || size[c] > meta.collapse_above) continue;
      open[c] = 1; stack.push(...kids[c]);
    }
  }

  // ---- colours ----
  const colourModes = [];
  DATA.taxonomies.forEach(t => colourModes.push({ key: "tax:" + t.id, label: t.name }));
  colourModes.push({ key: "year", label: "year" }, { key: "venue", label: "venue" }, { key: "code", label: "has code" });
  function colourScale(mode) {
    if (mode === "year") {
      const ys = papers.map(p => p.y).filter(y => y != null);
      const s = d3.scaleSequential(d3.interpolateCividis).domain([d3.min(ys) || 0, d3.max(ys) || 1]);
      return { of: p => p.y == null ? GREY : s(p.y), legend: ys.length ? [[String(d3.min(ys)), s(d3.min(ys))], [String(d3.max(ys)), s(d3.max(ys))]] : [] };
    }
    let value;
    if (mode === "venue") value = p => p.v || "";
    else if (mode === "code") value = p => (p.cu ? "with code" : "");
    else { const tax = mode.slice(4); value = p => topLabel(p, tax); }
    const counts = d3.rollup(papers, g => g.length, value);
    const keys = [...counts.keys()].filter(k => k).sort((a, b) => counts.get(b) - counts.get(a) || (a < b ? -1 : 1));
    const shown = keys.slice(0, PALETTE.length);
    const colour = new Map(shown.map((k, i) => [k, PALETTE[i]]));
    const name = k => (mode.startsWith("tax:") && taxa[mode.slice(4)].byId[k]) ? taxa[mode.slice(4)].byId[k].name : k;
    const legend = shown.map(k => [name(k) + " (" + counts.get(k) + ")", colour.get(k)]);
    if (keys.length > shown.length || counts.get("")) legend.push([mode === "code" ? "no code" : "other / none", GREY]);
    return { of: p => colour.get(value(p)) || GREY, legend };
  }

  // ---- drawing ----
  const svg = d3.select("#tree"), canvas = svg.append("g");
  const gLinks = canvas.append("g"), gNodes = canvas.append("g");
  const zoom = d3.zoom().scaleExtent([0.05, 4]).on("zoom", e => canvas.attr("transform", e.transform));
  svg.call(zoom).on("dblclick.zoom", null);
  let colour = null, rows = 0, drawn = null;

  function layout() {
    const x = new Float64Array(total), y = new Float64Array(total), shown = [];
    let row = 0;
    const stack = [root];
    const visit = [];
    while (stack.length) {  // pre-order over the open part of the tree
      const v = stack.pop(); visit.push(v);
      if (v >= n && open[v]) stack.push(kids[v][1], kids[v][0]);
    }
    visit.forEach(v => { x[v] = MARGIN + (1 - height[v]) * TREE_W; if (v < n || !open[v]) { y[v] = MARGIN + row * ROW; row++; } });
    for (let i = visit.length - 1; i >= 0; i--) { const v = visit[i]; if (v >= n && open[v]) y[v] = (y[kids[v][0]] + y[kids[v][1]]) / 2; }
    visit.forEach(v => shown.push(v));
    rows = row;
    drawn = { x, y };
    return { x, y, shown };
  }

  function render() {
    const { x, y, shown } = layout();
    const leafX = MARGIN + TREE_W;
    const links = shown.filter(v => v !== root).map(v => ({ v, p: parent[v] }));
    const matchC = prefix(state.match), surveyC = prefix(state.survey), passC = prefix(state.pass);
    gLinks.selectAll("path").data(links, d => d.v).join("path")
      .attr("class", d => "link" + (query && within(matchC, d.v) ? " match-path" : "") + (surveyNode && within(surveyC, d.v) ? " survey-path" : ""))
      .attr("d", d => `M${x[d.p]},${y[d.p]}V${y[d.v]}H${x[d.v]}`);
    const node = gNodes.selectAll("g.node").data(shown, v => v).join(enter => {
      const g = enter.append("g");
      g.on("click", (e, v) => { e.stopPropagation(); select(v); })
        .on("dblclick", (e, v) => { e.stopPropagation(); if (v >= n) { if (open[v]) open[v] = 0; else expand(v); render(); } });
      return g;
    });
    node.attr("transform", v => `translate(${x[v]},${y[v]})`)
      .attr("data-id", v => (v < n ? papers[v].id : "n" + v))
      .attr("class", v => {
        const kind = v < n ? "leaf" : (open[v] ? "internal" : "collapsed");
        const cls = ["node", kind];
        if (v < n) { if (state.match[v]) cls.push("match"); if (!state.pass[v]) cls.push("dim"); if (state.survey[v]) cls.push("survey"); }
        else if (!open[v]) { if (query && within(matchC, v)) cls.push("match"); if (!within(passC, v)) cls.push("dim"); if (surveyNode && within(surveyC, v)) cls.push("survey"); }
        if (selected === v) cls.push("selected");
        return cls.join(" ");
      })
      .each(function (v) {
        const g = d3.select(this); g.selectAll("*").remove();
        if (v < n) {
          g.append("circle").attr("r", 4).attr("fill", colour.of(papers[v]));
          g.append("text").attr("x", leafX - x[v] + LEAF_GAP).text(papers[v].leaf);
        } else if (!open[v]) {
          const w = Math.max(leafX - x[v], 6), h = Math.min(6, 2 + Math.log2(size[v]));
          const tally = colourTally(v);
          g.append("path").attr("d", `M0,0L${w},${-h}L${w},${h}Z`).attr("fill", tally);
          const t = (DATA.terms[v] ? DATA.terms[v][0] || "" : "") + (MATCHES[v] ? ` (≈ ${MATCHES[v]})` : "");
          const m = query && within(matchC, v) ? ` — ${within(matchC, v)} match${within(matchC, v) > 1 ? "es" : ""}` : "";
          const sv = surveyNode && within(surveyC, v) ? ` — ${within(surveyC, v)} in the survey node` : "";
          g.append("text").attr("x", w + LEAF_GAP).text(`▸ ${size[v]} papers${t ? ": " + t : ""}${m}${sv}`);
        } else {
          g.append("circle").attr("r", 3).attr("fill", "#777");
          if (NAMES[v]) g.append("text").attr("class", "branch-name").attr("x", 4).attr("y", -7).text(NAMES[v]);
        }
      });
    hideCrowdedNames(shown, y);
    d3.select("#search-count").text(matchCount == null ? "" : `${matchCount} match${matchCount === 1 ? "" : "es"}`);
    document.body.dataset.leaves = String(shown.filter(v => v < n).length);
    document.body.dataset.collapsed = String(shown.filter(v => v >= n && !open[v]).length);
  }

  function hideCrowdedNames(shown, y) {  // a branch name that would cover a higher one or any paper's label stays hidden
    const overlaps = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    // only labels within two rows of a name can touch it: measuring all of 6,000 would double a render's time
    const named = shown.filter(v => v >= n && open[v] && NAMES[v]);
    const near = new Set(shown.filter(v => (v < n || !open[v]) && named.some(u => Math.abs(y[v] - y[u]) < 2 * ROW)));
    const labels = gNodes.selectAll("g.leaf, g.collapsed").filter(v => near.has(v)).select("text").nodes()
      .map(t => t.getBoundingClientRect());
    const kept = [];
    [...gNodes.node().querySelectorAll("text.branch-name")]
      .sort((a, b) => b.parentNode.__data__ - a.parentNode.__data__)  // higher merges (larger ids) first
      .forEach(t => {
        const box = t.getBoundingClientRect();
        const crowded = kept.some(k => overlaps(box, k)) || labels.some(l => overlaps(box, l));
        t.style.display = crowded ? "none" : null;
        if (!crowded) kept.push(box);
      });
  }

  function colourTally(v) {  // a collapsed subtree takes the colour most of its papers have
    const c = d3.rollup(members(v), g => g.length, i => colour.of(papers[i]));
    return [...c.entries()].sort((a, b) => b[1] - a[1])[0][0];
  }

  function drawLegend() {
    const box = d3.select("#legend").html("");
    colour.legend.forEach(([label, c]) => { const d = box.append("div"); d.append("span").attr("class", "key").style("background", c); d.append("span").text(label); });
  }

  // ---- panel ----
  const panel = d3.select("#panel");
  function field(dl, label, value) { if (value === "" || value == null) return; dl.append("dt").text(label); const dd = dl.append("dd"); if (typeof value === "function") value(dd); else dd.text(value); }
  function link(dd, href, text) { dd.append("a").attr("href", href).attr("target", "_blank").attr("rel", "noopener").text(text); dd.append("span").text(" "); }
  function select(v) {
    selected = v; panel.html("");
    if (v < n) showPaper(papers[v]); else showBranch(v);
    render();
  }
  function showPaper(p) {
    panel.append("h2").text(p.t);
    const dl = panel.append("dl");
    field(dl, "method", p.m); field(dl, "id", p.id); field(dl, "authors", p.a); field(dl, "year", p.y); field(dl, "venue", p.v);
    DATA.taxonomies.forEach(t => field(dl, t.name, (p.l[t.id] || []).map(id => path(t.id, id).map(x => x.name).join(" › ")).join("; ") || "(no label)"));
    field(dl, "links", (p.ax || p.pu || p.cu) ? dd => { if (p.ax) link(dd, "https://arxiv.org/abs/" + p.ax, "arXiv " + p.ax); if (p.pu) link(dd, p.pu, "paper"); if (p.cu) link(dd, p.cu, "code"); } : "");
    field(dl, "best reported ImageNet-1K fine-tune top-1", p.r);
    field(dl, "reference implementation", p.impl ? dd => { dd.append("span").text(p.impl + " — "); dd.append("code").text("mimtax run " + p.impl.split(",")[0].trim()); } : "");
    field(dl, "audit flag", p.flag);
    const own = [...(resultsOf.get(p.id) || [])].sort((a, b) => d3.ascending(a.b, b.b) || d3.ascending(a.bb, b.bb));
    if (!own.length) return;
    panel.append("h3").text(`Reported results (${own.length})`);
    const t = panel.append("table").attr("id", "paper-results");
    t.append("tr").selectAll("th").data(["benchmark", "backbone", "epochs", "value"]).join("th").text(d => d);
    own.forEach(r => { const tr = t.append("tr"); [r.b, r.bb, r.e].forEach(c => tr.append("td").text(c)); valueCell(tr, r); });
  }
  function valueCell(tr, r) {  // the figure, linked to the line of its source; † marks extra pre-training data
    tr.append("td").append("a").attr("href", r.u).attr("target", "_blank").attr("rel", "noopener").attr("title", r.xw || null).text(r.v + (r.x ? " †" : ""));
  }
  function leaderboard(ms) {  // the branch's reported results, ranked like `mimtax leaderboard`: within one benchmark and like-for-like group (r.g, computed in Python)
    const ids = new Set(ms.map(p => p.id)), byId = new Map(ms.map(p => [p.id, p]));
    const byBench = d3.group(RESULTS.filter(r => ids.has(r.id)), r => r.b);
    if (!byBench.size) return;
    const names = [...byBench.keys()].sort((a, b) => byBench.get(b).length - byBench.get(a).length || d3.ascending(a, b));
    const first = byBench.has("in1k-ft") ? "in1k-ft" : names[0];
    panel.append("h3").text("Leaderboard");
    const pick = panel.append("select").attr("id", "board-benchmark");
    pick.selectAll("option").data(names).join("option").attr("value", d => d).text(d => `${d} (${byBench.get(d).length})`);
    pick.property("value", first);
    panel.append("p").attr("class", "muted").text("ranked like for like: within one backbone, input resolution, protocol and extra-data class (smallest first for a distance or error rate); † extra data");
    const table = panel.append("table").attr("id", "board");
    function draw(name) {
      table.html("");
      table.append("tr").selectAll("th").data(["rank", "method", "year", "epochs", "value"]).join("th").text(d => d);
      const group = d3.group(byBench.get(name), r => r.g);
      [...group.keys()].sort((a, b) => group.get(b).length - group.get(a).length || d3.ascending(a, b)).forEach(g => {
        table.append("tr").attr("class", "group").append("th").attr("colspan", 5).text(g);
        const bb = group.get(g)[0].bb;
        const label = r => byId.get(r.id).m || r.id;  // ties: by method, as the CLI breaks them
        [...group.get(g)].sort((a, b) => (a.low ? a.v - b.v : b.v - a.v) || d3.ascending(label(a), label(b))).forEach((r, i) => {
          const p = byId.get(r.id), tr = table.append("tr").attr("data-backbone", bb).attr("data-group", g);
          [i + 1, p.m || p.id, p.y ?? "", r.e].forEach(c => tr.append("td").text(c));
          valueCell(tr, r);
        });
      });
    }
    pick.on("change", function () { draw(this.value); });
    draw(first);
  }
  function showBranch(v) {
    const ms = members(v).map(i => papers[i]);
    panel.append("h2").text(`Branch n${v}: ${size[v]} papers`);
    const dl = panel.append("dl");
    field(dl, "key terms", (DATA.terms[v] || []).join(", ") || "(unnamed)");
    field(dl, "matches survey node", MATCHES[v] ? `≈ ${MATCHES[v]} (F1 ≥ 0.5)` : "");
    DATA.taxonomies.forEach(t => {
      const labelled = ms.filter(p => (p.l[t.id] || []).length);
      if (!labelled.length) { field(dl, "purity, " + t.name, "no labelled paper"); return; }
      const c = d3.rollup(labelled, g => g.length, p => topLabel(p, t.id));
      const [best, count] = [...c.entries()].sort((a, b) => b[1] - a[1])[0];
      field(dl, "purity, " + t.name, `${(100 * count / labelled.length).toFixed(0)}% ${taxa[t.id].byId[best].name} (${count} of ${labelled.length} labelled)`);
    });
    const impls = [...new Set(ms.map(p => p.impl).filter(Boolean))].sort();
    field(dl, "linked implementations", impls.length ? impls.join(", ") : "none among its papers");
    const buttons = panel.append("p");
    buttons.append("button").attr("type", "button").attr("id", "toggle").text(open[v] ? "Collapse" : "Expand")
      .on("click", () => { if (open[v]) open[v] = 0; else expand(v); select(v); });
    leaderboard(ms);
    panel.append("h3").text("Papers");
    const list = panel.append("ol");
    ms.slice(0, 60).forEach(p => list.append("li").text(`${p.m || p.id}: ${p.t}`));
    if (ms.length > 60) panel.append("p").attr("class", "muted").text(`… and ${ms.length - 60} more`);
  }

  // ---- controls ----
  function applyFilters() {
    const from = +document.getElementById("year-from").value || -Infinity, to = +document.getElementById("year-to").value || Infinity;
    const code = document.getElementById("has-code").checked;
    papers.forEach((p, i) => { state.pass[i] = (p.y == null ? !isFinite(from) && !isFinite(to) : p.y >= from && p.y <= to) && (!code || !!p.cu) ? 1 : 0; });
    render();
  }
  function applySearch() {
    query = document.getElementById("search").value.trim().toLowerCase();
    state.match.fill(0); matchCount = null;
    if (query) {
      papers.forEach((p, i) => { if ([p.t, p.m, p.id, p.a].some(s => s && s.toLowerCase().includes(query))) state.match[i] = 1; });
      matchCount = d3.sum(state.match);
    }
    render();
    if (matchCount && matchCount <= REVEAL_MAX) reveal(order.find(i => state.match[i]));
  }
  const REVEAL_MAX = 20;  // a search with this few matches opens the way to the first and brings it into view
  function reveal(leaf) {
    for (let v = parent[leaf]; v >= 0; v = parent[v]) open[v] = 1;
    render();
    const box = svg.node().getBoundingClientRect(), t = d3.zoomTransform(svg.node());
    const label = gNodes.selectAll("g.leaf").filter(v => v === leaf).node();
    const x = drawn.x[leaf] * t.k + t.x, w = label ? label.getBBox().width * t.k : 0;
    const dx = x < 8 ? 8 - x : (x + w > box.width - 8 ? Math.max(box.width - 8 - x - w, 8 - x) : 0);
    svg.call(zoom.transform, d3.zoomIdentity.translate(t.x + dx, box.height / 2 - drawn.y[leaf] * t.k).scale(t.k));
    gNodes.selectAll("g.node").classed("focus", v => v === leaf);
  }
  function applySurvey() {
    surveyNode = document.getElementById("survey-node").value;
    state.survey.fill(0);
    if (surveyNode) {
      const [tax, node] = surveyNode.split("|");
      papers.forEach((p, i) => { if (carries(p, tax, node)) state.survey[i] = 1; });
    }
    render();
    if (surveyNode) showScatter();
  }
  function showScatter() {  // how scattered a survey node's papers are over the learned tree
    const c = prefix(state.survey), count = c[n];
    const [tax, node] = surveyNode.split("|");
    panel.html(""); selected = null;
    panel.append("h2").text(`${taxa[tax].byId[node].name} (${taxa[tax].name})`);
    const dl = panel.append("dl");
    field(dl, "papers", String(count));
    if (!count) return;
    let subtrees = 0;
    for (let v = 0; v < total; v++) { const pure = within(c, v) === size[v]; if (pure && (v === root || within(c, parent[v]) !== size[parent[v]])) subtrees++; }
    const first = order.findIndex(i => state.survey[i]), last = n - 1 - [...order].reverse().findIndex(i => state.survey[i]);
    let lca = order[first]; while (hi[lca] <= last) lca = parent[lca];
    field(dl, "subtrees", `${subtrees} (the fewest subtrees of the learned tree that hold exactly these papers)`);
    field(dl, "lowest common ancestor", `n${lca}: ${size[lca]} papers, height ${height[lca].toFixed(2)} (0 = leaves, 1 = root)`);
    surveyCount = { count, subtrees, lca };
    document.body.dataset.surveySubtrees = String(subtrees);
  }

  function fit(widthOnly) {  // the drawn tree fills the view (centred); widthOnly: its whole width, top first
    const box = svg.node().getBoundingClientRect(), bb = canvas.node().getBBox(), pad = 10;
    if (!bb.width || !bb.height) return;
    const across = (box.width - 2 * pad) / bb.width, down = (box.height - 2 * pad) / bb.height;
    // a tall tree is read by panning down: no larger than 1.25x, so a screen holds enough of its rows
    const k = Math.max(0.05, widthOnly ? Math.min(1.25, across) : Math.min(3, across, down));
    const tx = (box.width - bb.width * k) / 2 - bb.x * k;
    const ty = widthOnly ? pad - bb.y * k : (box.height - bb.height * k) / 2 - bb.y * k;
    svg.call(zoom.transform, d3.zoomIdentity.translate(tx, ty).scale(k));
  }

  function init() {
    const colourSelect = d3.select("#colour");
    colourModes.forEach(m => colourSelect.append("option").attr("value", m.key).text(m.label));
    colourBy = meta.taxonomy ? "tax:" + meta.taxonomy : colourModes[0].key;
    colourSelect.property("value", colourBy).on("change", function () { colourBy = this.value; colour = colourScale(colourBy); drawLegend(); render(); });
    const surveySelect = d3.select("#survey-node");
    DATA.taxonomies.forEach(t => {
      const group = surveySelect.append("optgroup").attr("label", t.name);
      t.nodes.forEach(([id, name, , depth]) => group.append("option").attr("value", t.id + "|" + id).text("\u00a0\u00a0".repeat(depth) + name));
    });
    surveySelect.on("change", applySurvey);
    const cutSelect = d3.select("#cut"), cuts = new Map();
    DATA.taxonomies.forEach(t => t.sizes.forEach((k, i) => { if (k > 1 && k < n && !cuts.has(k)) cuts.set(k, `${k} = ${t.name}: ${t.levels[i]}`); }));
    if (!cuts.has(meta.cut)) cuts.set(meta.cut, `${meta.cut} groups`);
    [...cuts.keys()].sort((a, b) => a - b).forEach(k => cutSelect.append("option").attr("value", k).text(cuts.get(k)));
    cutSelect.property("value", meta.cut).on("change", function () { cutAt(+this.value); render(); fit(false); });
    d3.select("#search").on("input", applySearch);
    d3.selectAll("#year-from, #year-to, #has-code").on("change", applyFilters).on("input", applyFilters);
    d3.select("#expand-all").on("click", () => { for (let v = n; v < total; v++) open[v] = 1; render(); fit(true); });
    d3.select("#fit").on("click", () => fit(false));
    svg.on("click", () => { selected = null; render(); });
    provenance();
    colour = colourScale(colourBy); drawLegend();
    cutAt(meta.cut); render(); fit(false);
    document.body.dataset.ready = "1";
    window.mimtaxDrawnAt = performance.now();
  }

  function provenance() {
    const body = d3.select("#provenance-body");
    body.append("p").text(`${meta.n} papers (${meta.with_abstract} with an abstract); corpus ${meta.corpus || "(shipped)"}`);
    const kv = (title, obj) => {
      body.append("h4").text(title);
      const t = body.append("table");
      Object.entries(obj).forEach(([k, v]) => { const r = t.append("tr"); r.append("th").text(k); r.append("td").text(typeof v === "object" ? JSON.stringify(v) : String(v)); });
    };
    kv("configuration", meta.config); kv("versions", meta.versions);
    if (meta.scores.length) {
      body.append("h4").text("agreement with the survey taxonomies (the tree cut at each level's size)");
      const cols = Object.keys(meta.scores[0]);
      const t = body.append("table"), h = t.append("tr");
      cols.forEach(c => h.append("th").text(c));
      meta.scores.forEach(row => { const r = t.append("tr"); cols.forEach(c => r.append("td").text(typeof row[c] === "number" ? (+row[c].toFixed(3)).toString() : row[c])); });
    }
  }

  init();
})();
