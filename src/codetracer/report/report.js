// codetracer report page. Every piece of run text reaches the DOM through textContent (never as markup), so
// whatever an agent's tools printed is shown as text. Stage contents and step bodies are built on first open,
// which keeps a 1,000-step run fast to load.
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("ct-data").textContent);
  const run = data.run;
  const steps = data.steps;
  const diag = data.diagnosis;
  const onset = diag && diag.onset ? diag.onset : null;
  const chain = new Set(diag ? diag.chain : []);
  const KINDS = ["environment_check", "dependency_install", "inspection", "patching", "verification", "submit",
    "other"];
  const evidenceByStep = new Map();
  if (diag) {
    for (const e of diag.evidence) {
      if (!evidenceByStep.has(e.step)) evidenceByStep.set(e.step, []);
      evidenceByStep.get(e.step).push(e);
    }
  }

  // -- tiny DOM helpers (text only) ----------------------------------------------------------------------------
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function $(id) { return document.getElementById(id); }
  function kindClass(kind) { return "k-" + (KINDS.indexOf(kind) >= 0 ? kind : "other"); }
  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  // Text with the current search query highlighted, still built from text nodes only.
  let query = "";
  function fillText(node, text) {
    node.textContent = "";
    if (!query) { node.textContent = text; return node; }
    const low = text.toLowerCase();
    let at = 0;
    let found = low.indexOf(query, at);
    let marks = 0;
    while (found >= 0 && marks < 500) {
      node.appendChild(document.createTextNode(text.slice(at, found)));
      node.appendChild(el("mark", null, text.slice(found, found + query.length)));
      at = found + query.length;
      found = low.indexOf(query, at);
      marks++;
    }
    node.appendChild(document.createTextNode(text.slice(at)));
    return node;
  }

  // -- groups: the stages, plus the steps no stage covers ------------------------------------------------------
  const groups = [];
  const groupOfStep = new Array(steps.length + 1);
  const covered = new Uint8Array(steps.length + 1);
  for (const s of data.stages) {
    const ids = [];
    for (let i = Math.max(s.start, 1); i <= Math.min(s.end, steps.length); i++) { ids.push(i); covered[i] = 1; }
    groups.push({ key: "stage-" + s.id, label: "stage " + s.id + " · " + s.kind, kind: s.kind,
      range: "steps " + s.start + "–" + s.end + (s.source !== "auto" ? " (" + s.source + ")" : ""), ids: ids });
  }
  const rest = [];
  for (let i = 1; i <= steps.length; i++) if (!covered[i]) rest.push(i);
  if (rest.length) {
    groups.push({ key: "stage-rest", label: data.stages.length ? "steps outside any stage" : "steps", kind: "other",
      range: plural(rest.length, "step"), ids: rest });
  }
  groups.forEach(function (g, n) {
    g.index = n;
    g.open = false;
    g.rendered = false;
    g.hasOnset = onset !== null && g.ids.indexOf(onset) >= 0;
    for (const id of g.ids) if (!groupOfStep[id]) groupOfStep[id] = g;
  });

  // -- header, diagnosis, timeline -----------------------------------------------------------------------------
  function stepLink(id, extra) {
    const a = el("button", "steplink" + (extra ? " " + extra : ""), "step " + id);
    a.type = "button";
    a.dataset.step = String(id);
    return a;
  }

  function renderHeader() {
    $("run-title").textContent = run.id;
    const badge = $("outcome");
    badge.textContent = run.outcome + (run.complete ? "" : ", incomplete");
    badge.classList.add(run.outcome);
    const meta = $("meta");
    const errors = steps.filter(function (s) { return s.err; }).length;
    const facts = ["framework " + run.framework, plural(steps.length, "step"), plural(data.stages.length, "stage"),
      plural(errors, "error step")];
    if (run.started_at && run.ended_at) facts.push(Math.round(run.ended_at - run.started_at) + " s");
    if (run.started_at) facts.push("started " + new Date(run.started_at * 1000).toISOString().replace(".000", ""));
    if (run.exit_status) facts.push("exit status " + run.exit_status);
    if (run.dropped_events) facts.push(run.dropped_events + " events not recorded");
    if (run.source) facts.push(run.source);
    for (const f of facts) meta.appendChild(el("span", null, f));
    if (run.task) $("task").textContent = run.task.t; else $("task").hidden = true;
    $("footer").textContent = "codetracer " + data.version + " · generated " + data.generated +
      " · self-contained: this file loads nothing from the network";
  }

  function renderFinalState(box) {
    const patch = data.patch, ver = data.verification;
    if (patch && patch.files.length) {
      box.appendChild(el("div", "block-title", "Final patch (" + patch.source + ")"));
      const list = el("ul", "evidence");
      for (const f of patch.files) {
        const li = el("li");
        li.appendChild(el("span", "signal", f.path));
        li.appendChild(document.createTextNode(" +" + f.added + "/-" + f.removed + (f.stray ? " (stray file)" : "") +
          (f.authors.length ? " · written by " : "")));
        f.authors.forEach(function (id, n) {
          if (n) li.appendChild(document.createTextNode(", "));
          li.appendChild(stepLink(id));
        });
        list.appendChild(li);
      }
      box.appendChild(list);
    }
    if (ver) {
      const verdict = ver.passed === true ? "passed" : ver.passed === false ? "failed" : "verifier error";
      const code = ver.exit_code !== null && ver.exit_code !== undefined ? " (exit " + ver.exit_code + ")" : "";
      box.appendChild(el("div", "diag-line", "Verification (" + ver.verifier + "): " + verdict + code +
        (ver.n_failed ? " · " + ver.n_failed + " failed: " + ver.failed.slice(0, 5).join(", ") : "")));
      if (ver.output) {
        box.appendChild(el("div", "block-title", "verifier output (" + ver.output.n.toLocaleString() + " characters)"));
        box.appendChild(fillText(el("pre"), ver.output.t));
      }
    }
  }

  function renderDiagnosis() {
    const box = $("diagnosis");
    if (!diag) {
      box.appendChild(el("div", "panel-title", "No diagnosis"));
      box.appendChild(el("div", "hint", run.outcome === "solved"
        ? "The run is solved; solved runs are not diagnosed unless asked (codetracer analyze --all-runs)."
        : "No localizer ran on this run."));
      renderFinalState(box);
      return;
    }
    box.appendChild(el("div", "panel-title", "Diagnosis (" + diag.localizer + ", confidence " +
      diag.confidence.toFixed(2) + ")"));
    const line = el("div", "diag-line");
    if (onset !== null) {
      box.classList.add("diag-onset");
      line.appendChild(document.createTextNode("Failure onset: "));
      const link = stepLink(onset, "onset");
      link.id = "onset-link";
      line.appendChild(link);
      const g = groupOfStep[onset];
      if (g) line.appendChild(document.createTextNode(" (" + g.label + ")"));
      if (diag.agent) line.appendChild(document.createTextNode(" · agent " + diag.agent));
    } else {
      line.appendChild(document.createTextNode("No onset found."));
    }
    box.appendChild(line);
    if (diag.chain.length) {
      const c = el("div", "diag-line chain-list");
      c.appendChild(document.createTextNode("Chain (" + diag.chain.length + "): "));
      diag.chain.forEach(function (id, n) {
        if (n) c.appendChild(document.createTextNode(", "));
        c.appendChild(stepLink(id));
      });
      box.appendChild(c);
    }
    if (diag.reasoning) box.appendChild(el("div", "reasoning", diag.reasoning));
    if (diag.suggestion) box.appendChild(el("div", "diag-line", "Suggestion: " + diag.suggestion));
    if (diag.evidence.length) {
      box.appendChild(el("div", "block-title", "Evidence (" + diag.evidence.length + ")"));
      const list = el("ul", "evidence");
      for (const e of diag.evidence) {
        const li = el("li");
        li.appendChild(stepLink(e.step, e.step === onset ? "onset" : ""));
        li.appendChild(document.createTextNode(" "));
        li.appendChild(el("span", "signal", e.signal));
        if (e.detail) li.appendChild(document.createTextNode(": " + e.detail));
        list.appendChild(li);
      }
      box.appendChild(list);
    }
    renderFinalState(box);
  }

  // The attempts of the reflective replay this run belongs to: each one's outcome and the correction it was sent
  // off with, whichever attempt the report was made of.
  function renderSequence() {
    const seq = data.sequence, box = $("sequence");
    if (!seq) { box.hidden = true; return; }
    box.appendChild(el("div", "panel-title", "Sequence of " + plural(seq.members.length, "attempt") + ": final outcome " +
      seq.outcome + (seq.stop_reason ? " (" + seq.stop_reason + ")" : "")));
    box.appendChild(el("div", "diag-line", "Budget: " + seq.budget_line + " used"));
    const list = el("ol", "evidence");
    for (const m of seq.members) {
      const li = el("li", m.run_id === seq.current ? "current" : null);
      li.appendChild(el("span", "signal", "attempt " + m.attempt));
      li.appendChild(document.createTextNode(" " + m.run_id + " · " + m.outcome +
        (m.verdict ? " (" + m.verdict + (m.reason ? ": " + m.reason : "") + ")" : "") + " · " +
        plural(m.n_steps, "step") + (m.onset !== null && m.onset !== undefined ? " · onset step " + m.onset : "") +
        (m.run_id === seq.current ? " · this report" : "")));
      if (m.correction) {
        li.appendChild(el("div", "block-title", "correction sent to the agent"));
        li.appendChild(fillText(el("pre"), m.correction.t));
      }
      list.appendChild(li);
    }
    box.appendChild(list);
  }

  function renderTimeline() {
    const bar = $("timeline");
    const total = Math.max(steps.length, 1);
    for (const g of groups) {
      const seg = el("div", "seg " + kindClass(g.kind) + (g.hasOnset ? " has-onset" : ""));
      seg.style.flexGrow = String(Math.max(g.ids.length, 1));
      seg.title = g.label + ", " + g.range;
      seg.dataset.group = String(g.index);
      g.seg = seg;
      bar.appendChild(seg);
    }
    const pos = function (id) { return (100 * (id - 0.5) / total) + "%"; };
    for (const s of steps) {
      if (s.err) {
        const t = el("div", "tick err");
        t.style.left = pos(s.id);
        bar.appendChild(t);
      }
    }
    for (const id of chain) {
      if (id === onset) continue;
      const t = el("div", "tick");
      t.style.left = pos(id);
      bar.appendChild(t);
    }
    if (onset !== null) {
      const t = el("div", "tick onset");
      t.style.left = pos(onset);
      t.title = "onset: step " + onset;
      bar.appendChild(t);
    }
    const legend = $("legend");
    const used = new Set(groups.map(function (g) { return kindClass(g.kind); }));
    for (const k of KINDS) {
      if (!used.has("k-" + k)) continue;
      const item = el("span");
      item.appendChild(el("span", "swatch k-" + k));
      item.appendChild(document.createTextNode(k.replace("_", " ")));
      legend.appendChild(item);
    }
    legend.appendChild(el("span", null, "▼ onset · ▏chain (above) · ▁ error (below)"));
  }

  // -- the tree ------------------------------------------------------------------------------------------------
  const stepNodes = new Array(steps.length + 1);

  function renderGroups() {
    const tree = $("tree");
    const frag = document.createDocumentFragment();
    for (const g of groups) {
      const section = el("section", "stage " + kindClass(g.kind));
      section.id = g.key;
      const head = el("div", "row stage-head");
      head.setAttribute("role", "treeitem");
      head.setAttribute("aria-expanded", "false");
      head.tabIndex = -1;
      head.dataset.group = String(g.index);
      head.dataset.nav = "1";
      g.twisty = head.appendChild(el("span", "twisty", "▸"));
      head.appendChild(el("span", null, g.label));
      head.appendChild(el("span", "range", g.range));
      g.badges = head.appendChild(el("span", "badges"));
      section.appendChild(head);
      const body = el("div", "stage-steps");
      body.setAttribute("role", "group");
      body.hidden = true;
      section.appendChild(body);
      g.head = head;
      g.body = body;
      updateBadges(g);
      frag.appendChild(section);
    }
    tree.appendChild(frag);
  }

  function updateBadges(g) {
    const b = g.badges;
    b.textContent = "";
    let errs = 0;
    const inChain = [];
    let hitCount = 0;
    for (const id of g.ids) {
      if (steps[id - 1].err) errs++;
      if (chain.has(id)) inChain.push(id);
      if (hitSet.has(id)) hitCount++;
    }
    b.appendChild(el("span", null, plural(g.ids.length, "step")));
    if (errs) { b.appendChild(document.createTextNode(" · ")); b.appendChild(el("span", "e", plural(errs, "error"))); }
    if (g.hasOnset) { b.appendChild(document.createTextNode(" · ")); b.appendChild(el("span", "e", "onset " + onset)); }
    if (inChain.length) {
      const shown = inChain.slice(0, 8).join(", ") + (inChain.length > 8 ? ", …" : "");
      b.appendChild(document.createTextNode(" · "));
      b.appendChild(el("span", "c", "chain " + shown));
    }
    if (hitCount) { b.appendChild(document.createTextNode(" · ")); b.appendChild(el("span", "h", hitCount + " match")); }
  }

  function stepRow(id) {
    const s = steps[id - 1];
    let cls = "step";
    if (id === onset) cls += " onset"; else if (chain.has(id)) cls += " chain";
    if (s.err) cls += " err";
    if (hitSet.has(id)) cls += " hit";
    const node = el("div", cls);
    node.id = "step-" + id;
    const head = el("div", "row step-head");
    head.setAttribute("role", "treeitem");
    head.setAttribute("aria-expanded", "false");
    head.tabIndex = -1;
    head.dataset.step = String(id);
    head.dataset.nav = "1";
    head.appendChild(el("span", "twisty", "▸"));
    head.appendChild(el("span", "sid", id));
    if (id === onset) head.appendChild(el("span", "mark", "ONSET"));
    else if (chain.has(id)) head.appendChild(el("span", "mark", "chain"));
    if (s.kept) head.appendChild(el("span", "fate " + s.kept.replace(" ", "-"), s.kept));
    if (s.agent) head.appendChild(el("span", "agent", "[" + s.agent + "]"));
    head.appendChild(el("span", "sum", s.sum || "(no action)"));
    if (s.res) head.appendChild(el("span", "res" + (s.err ? " bad" : ""), s.res));
    node.appendChild(head);
    stepNodes[id] = node;
    return node;
  }

  function renderGroupSteps(g) {
    if (g.rendered) return;
    const frag = document.createDocumentFragment();
    for (const id of g.ids) frag.appendChild(stepRow(id));
    g.body.appendChild(frag);
    g.rendered = true;
  }

  function setGroupOpen(g, open) {
    if (open) renderGroupSteps(g);
    g.open = open;
    g.body.hidden = !open;
    g.head.setAttribute("aria-expanded", String(open));
    g.twisty.textContent = open ? "▾" : "▸";
    g.seg.classList.toggle("open", open);
  }

  // -- step bodies (built on first open) -----------------------------------------------------------------------
  function textBlock(parent, title, text, bad) {
    if (!text) return;
    parent.appendChild(el("div", "block-title" + (bad ? " bad" : ""), title));
    const pre = fillText(el("pre"), text.t);
    parent.appendChild(pre);
    if (text.cut) {
      parent.appendChild(el("div", "note", "shortened (" + text.n.toLocaleString() + " characters in all): " +
        "codetracer show " + run.id + " --step " + currentBodyStep + " prints it whole"));
    }
  }

  function diffBlock(parent, title, text) {
    parent.appendChild(el("div", "block-title", title));
    const pre = el("pre");
    for (const line of text.t.split("\n")) {
      const cls = line.startsWith("+") && !line.startsWith("+++") ? "add"
        : line.startsWith("-") && !line.startsWith("---") ? "del" : null;
      pre.appendChild(fillText(el("span", cls), line + "\n"));
    }
    parent.appendChild(pre);
  }

  function obsTitle(prefix, o) {
    const facts = [];
    if (o.exit !== null && o.exit !== undefined) facts.push("exit " + o.exit);
    if (o.error) facts.push("error");
    if (o.text) facts.push(o.text.n.toLocaleString() + " chars");
    return prefix + (facts.length ? " (" + facts.join(", ") + ")" : "");
  }

  let currentBodyStep = 0;
  function buildBody(id) {
    const b = steps[id - 1].body;
    currentBodyStep = id;
    const box = el("div", "step-body");
    const g = groupOfStep[id];
    const where = [g ? g.label : "no stage"];
    if (id === onset) where.push("failure onset");
    else if (chain.has(id)) where.push("in the failure chain");
    if (steps[id - 1].incomplete) where.push("incomplete");
    box.appendChild(el("div", "note", where.join(" · ")));
    textBlock(box, "thought", b.thought);
    for (const c of b.changes) {
      const fate = c.fate === "survives" ? "kept in the final patch (" + c.lines + " line(s) first written here)"
        : (c.fate || "final state unknown");
      box.appendChild(el("div", "note change", "changes " + c.path + " (" + c.how +
        (c.via ? ", via the script of step " + c.via : "") + "): " + fate));
    }
    b.calls.forEach(function (c, n) {
      const facts = [c.kind + " " + c.name];
      if (c.secs !== undefined) facts.push(c.secs + " s");
      if (c.tokens) facts.push("tokens " + c.tokens[0] + " in / " + c.tokens[1] + " out");
      if (c.incomplete) facts.push("incomplete");
      box.appendChild(el("div", "block-title", "call " + (n + 1) + ": " + facts.join(" · ")));
      textBlock(box, "command", c.command);
      textBlock(box, "arguments", c.args);
      if (c.edits) for (const e of c.edits) diffBlock(box, "edit " + e.path, e.diff);
      if (c.obs) {
        const bad = c.obs.error || (c.obs.exit !== null && c.obs.exit !== undefined && c.obs.exit !== 0);
        if (c.obs.text) textBlock(box, obsTitle("output", c.obs), c.obs.text, bad);
        else box.appendChild(el("div", "block-title" + (bad ? " bad" : ""), obsTitle("output", c.obs)));
      }
      textBlock(box, "response", c.response);
    });
    for (const o of b.obs) {
      const bad = o.error || (o.exit !== null && o.exit !== undefined && o.exit !== 0);
      if (o.text) textBlock(box, obsTitle("observation", o), o.text, bad);
      else box.appendChild(el("div", "block-title", obsTitle("observation", o)));
    }
    for (const m of b.msgs) textBlock(box, "message from " + m.role + (m.name ? " (" + m.name + ")" : ""), m.text);
    for (const e of b.errors) {
      box.appendChild(el("div", "block-title bad", "error" + (e.kind ? " (" + e.kind + ")" : "")));
      box.appendChild(fillText(el("pre"), e.error));
    }
    const ev = evidenceByStep.get(id);
    if (ev) {
      box.appendChild(el("div", "block-title", "evidence"));
      const list = el("ul", "evidence");
      for (const e of ev) {
        const li = el("li");
        li.appendChild(el("span", "signal", e.signal));
        if (e.detail) li.appendChild(document.createTextNode(": " + e.detail));
        list.appendChild(li);
      }
      box.appendChild(list);
    }
    return box;
  }

  function setStepOpen(id, open) {
    const node = stepNodes[id];
    if (!node) return;
    const head = node.firstChild;
    let body = node.querySelector(".step-body");
    if (open && !body) { body = buildBody(id); node.appendChild(body); body.dataset.query = query; }
    if (open && body && body.dataset.query !== query) {
      const fresh = buildBody(id);
      fresh.dataset.query = query;
      node.replaceChild(fresh, body);
      body = fresh;
    }
    if (body) body.hidden = !open;
    head.setAttribute("aria-expanded", String(open));
    head.firstChild.textContent = open ? "▾" : "▸";
  }
  function stepIsOpen(id) {
    const node = stepNodes[id];
    const body = node && node.querySelector(".step-body");
    return !!(body && !body.hidden);
  }

  // -- focus, navigation, jumping --------------------------------------------------------------------------------
  let current = null;
  function setCurrent(row, scroll) {
    if (current) current.classList.remove("current");
    current = row;
    if (!row) return;
    row.classList.add("current");
    row.focus({ preventScroll: true });
    if (scroll) row.scrollIntoView({ block: scroll === "center" ? "center" : "nearest" });
  }

  function gotoStep(id, open) {
    const g = groupOfStep[id];
    if (!g) return;
    setGroupOpen(g, true);
    if (open !== false) setStepOpen(id, true);
    const head = stepNodes[id].firstChild;
    setCurrent(head, "center");
    head.classList.remove("flash");
    void head.offsetWidth; // restart the highlight animation
    head.classList.add("flash");
  }

  function visibleRows() {
    const rows = [];
    for (const g of groups) {
      rows.push(g.head);
      if (g.open) for (const id of g.ids) rows.push(stepNodes[id].firstChild);
    }
    return rows;
  }

  function move(delta) {
    const rows = visibleRows();
    if (!rows.length) return;
    let i = current ? rows.indexOf(current) : -1;
    i = i < 0 ? (delta > 0 ? 0 : rows.length - 1) : Math.min(rows.length - 1, Math.max(0, i + delta));
    setCurrent(rows[i], "nearest");
  }

  function toggle(row, force) {
    if (!row) return;
    if (row.dataset.group !== undefined) {
      const g = groups[Number(row.dataset.group)];
      setGroupOpen(g, force === undefined ? !g.open : force);
    } else {
      const id = Number(row.dataset.step);
      setStepOpen(id, force === undefined ? !stepIsOpen(id) : force);
    }
  }

  function closeOrParent(row) {
    if (!row) return;
    if (row.dataset.step !== undefined) {
      const id = Number(row.dataset.step);
      if (stepIsOpen(id)) setStepOpen(id, false); else setCurrent(groupOfStep[id].head, "nearest");
    } else {
      toggle(row, false);
    }
  }

  // -- search ----------------------------------------------------------------------------------------------------
  let hayStack = null;
  let hits = [];
  let hitSet = new Set();
  let hitAt = -1;
  function haystack() {
    if (hayStack) return hayStack;
    hayStack = steps.map(function (s) {
      const parts = [s.sum, s.res, s.agent || ""];
      const b = s.body;
      const add = function (t) { if (t) parts.push(t.t); };
      add(b.thought);
      for (const c of b.calls) {
        parts.push(c.name);
        add(c.command); add(c.args); add(c.response);
        if (c.obs) add(c.obs.text);
        if (c.edits) for (const e of c.edits) { parts.push(e.path); add(e.diff); }
      }
      for (const o of b.obs) add(o.text);
      for (const m of b.msgs) add(m.text);
      for (const e of b.errors) parts.push(e.error);
      return parts.join("\n").toLowerCase();
    });
    return hayStack;
  }

  function runSearch(text) {
    query = text.trim().toLowerCase();
    const old = hitSet;
    hits = [];
    if (query) {
      const hay = haystack();
      const asNumber = /^#?\d+$/.test(query) ? Number(query.replace("#", "")) : null;
      for (let i = 0; i < hay.length; i++) {
        if (hay[i].indexOf(query) >= 0 || asNumber === i + 1) hits.push(i + 1);
      }
    }
    hitSet = new Set(hits);
    hitAt = -1;
    for (const id of old) if (stepNodes[id]) stepNodes[id].classList.remove("hit");
    for (const id of hits) if (stepNodes[id]) stepNodes[id].classList.add("hit");
    for (const g of groups) updateBadges(g);
    for (const t of document.querySelectorAll(".tick.hit")) t.remove();
    const bar = $("timeline");
    for (const id of hits.slice(0, 2000)) {
      const t = el("div", "tick hit");
      t.style.left = (100 * (id - 0.5) / Math.max(steps.length, 1)) + "%";
      bar.appendChild(t);
    }
    for (let id = 1; id <= steps.length; id++) if (stepIsOpen(id)) setStepOpen(id, true); // re-mark open bodies
    $("hits").textContent = query ? (hits.length ? plural(hits.length, "step") + " match" : "no match") : "";
  }

  function nextHit(delta) {
    if (!hits.length) return;
    hitAt = (hitAt + delta + hits.length) % hits.length;
    gotoStep(hits[hitAt], true);
    $("hits").textContent = (hitAt + 1) + " of " + plural(hits.length, "matching step");
  }

  // -- wiring ------------------------------------------------------------------------------------------------------
  renderHeader();
  renderDiagnosis();
  renderSequence();
  renderTimeline();
  renderGroups();

  // Open what matters first: every stage of a short run, else the stage holding the onset (or the first).
  if (steps.length <= 200) {
    for (const g of groups) setGroupOpen(g, true);
  } else if (groups.length) {
    setGroupOpen(onset !== null ? groupOfStep[onset] : groups[0], true);
  }
  if (onset !== null) {
    $("goto-onset").disabled = false;
  } else {
    $("goto-onset").disabled = true;
  }

  document.addEventListener("click", function (ev) {
    const target = ev.target instanceof Element ? ev.target : null;
    if (!target) return;
    const link = target.closest(".steplink");
    if (link) { ev.preventDefault(); gotoStep(Number(link.dataset.step), true); return; }
    const seg = target.closest(".seg");
    if (seg) {
      const g = groups[Number(seg.dataset.group)];
      setGroupOpen(g, true);
      setCurrent(g.head, "center");
      return;
    }
    const row = target.closest(".row");
    if (row && !target.closest("pre")) { setCurrent(row); toggle(row); }
  });

  let searchTimer = null;
  const search = $("search");
  search.addEventListener("input", function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () { runSearch(search.value); }, 120);
  });
  search.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter") {
      ev.preventDefault();
      clearTimeout(searchTimer);
      if (search.value.trim().toLowerCase() !== query) runSearch(search.value);
      nextHit(ev.shiftKey ? -1 : 1);
    } else if (ev.key === "Escape") {
      search.value = "";
      runSearch("");
      search.blur();
      if (current) current.focus({ preventScroll: true });
    }
  });
  $("next-hit").addEventListener("click", function () { nextHit(1); });
  $("prev-hit").addEventListener("click", function () { nextHit(-1); });
  $("goto-onset").addEventListener("click", function () { if (onset !== null) gotoStep(onset, true); });
  $("unfold-all").addEventListener("click", function () { for (const g of groups) setGroupOpen(g, true); });
  $("fold-all").addEventListener("click", function () {
    for (const g of groups) setGroupOpen(g, false);
    if (current && current.dataset.step !== undefined) setCurrent(groupOfStep[Number(current.dataset.step)].head);
  });
  $("help-button").addEventListener("click", function () { $("help").hidden = !$("help").hidden; });

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement) return;
    let handled = true;
    switch (ev.key) {
      case "j": case "ArrowDown": move(1); break;
      case "k": case "ArrowUp": move(-1); break;
      case "Enter": case " ": toggle(current); break;
      case "l": case "ArrowRight": toggle(current, true); break;
      case "h": case "ArrowLeft": closeOrParent(current); break;
      case "o": if (onset !== null) gotoStep(onset, true); break;
      case "/": search.focus(); search.select(); break;
      case "n": nextHit(1); break;
      case "N": nextHit(-1); break;
      case "g": { const rows = visibleRows(); setCurrent(rows[0], "nearest"); break; }
      case "G": { const rows = visibleRows(); setCurrent(rows[rows.length - 1], "nearest"); break; }
      case "?": $("help").hidden = !$("help").hidden; break;
      case "Escape": $("help").hidden = true; break;
      default: handled = false;
    }
    if (handled) ev.preventDefault();
  });

  function fromHash() {
    const m = /^#step-(\d+)$/.exec(location.hash);
    if (m && Number(m[1]) >= 1 && Number(m[1]) <= steps.length) gotoStep(Number(m[1]), true);
  }
  window.addEventListener("hashchange", fromHash);
  fromHash();

  // For tests and curious users: how long the first render took.
  document.documentElement.dataset.renderMs = String(Math.round(performance.now()));
  document.documentElement.dataset.ready = "1";
})();
