// The page of `ometiff view`. Every pixel, histogram and metadata field comes from the
// server (ometiff's readers); this file only lays them out. No framework, no build step.
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token") || "";
const $ = (sel) => document.querySelector(sel);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  for (const c of children) node.append(c);
  return node;
};

// --- talking to the server -------------------------------------------------------------

async function api(path, body) {
  const opts = { headers: { "X-Ometiff-Token": TOKEN } };
  if (body !== undefined) {
    opts.method = "POST";
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const response = await fetch(path, opts);
  let data;
  try { data = await response.json(); } catch { data = { error: `${response.status} ${response.statusText}` }; }
  if (!response.ok || (data && data.error)) throw new Error(data.error || response.statusText);
  return data;
}

function showError(message) {
  $("#error-text").textContent = String(message).replace(/^Error: /, "");
  $("#error").hidden = false;
}
function clearError() { $("#error").hidden = true; $("#error-text").textContent = ""; }
$("#error-close").onclick = clearError;

// --- state ---------------------------------------------------------------------------

const state = {
  session: null,
  file: null,        // {key, path, info, series}
  series: 0,
  t: 0,
  z: 0,
  channels: [],      // per channel: {visible, color, lo, hi, hist}
  generation: 0,     // bumps on every change of what tiles show
};
window.ometiffView = state;  // for tests and the curious

// --- file browser (shared by the viewer and the converter) -------------------------

function browser(container, { onFile, onAdd }) {
  async function show(root, path) {
    try {
      const listing = await api(`/api/list?root=${root}&path=${encodeURIComponent(path)}`);
      container.replaceChildren();
      const rootsRow = el("div", { className: "up", textContent: "⌂ folders" });
      rootsRow.onclick = () => roots();
      container.append(rootsRow);
      if (listing.parent !== null) {
        const up = el("div", { className: "up", textContent: "⬑ .." });
        up.onclick = () => show(root, listing.parent);
        container.append(up);
      }
      container.dataset.root = root;
      container.dataset.path = listing.path;
      for (const entry of listing.entries) {
        const row = el("div", { className: entry.dir ? "dir" : "file", title: entry.path });
        row.dataset.path = entry.path;
        const label = el("span", { textContent: entry.name });
        row.append(label);
        if (onAdd) {
          const add = el("button", { className: "add", textContent: "add" });
          add.onclick = (ev) => { ev.stopPropagation(); onAdd({ root, path: entry.path, name: entry.name }); };
          row.append(add);
        } else if (!entry.dir) {
          row.append(el("span", { className: "size", textContent: humanSize(entry.size) }));
        } else {  // a folder may be an image itself (OME-Zarr, an image series)
          const open = el("button", { className: "add open", textContent: "open", title: "open this folder as an image" });
          open.onclick = (ev) => { ev.stopPropagation(); onFile({ root, path: entry.path }); };
          row.append(open);
        }
        row.onclick = () => entry.dir ? show(root, entry.path) : onFile && onFile({ root, path: entry.path });
        container.append(row);
      }
    } catch (e) { showError(e.message); }
  }
  function roots() {
    container.replaceChildren();
    const s = state.session;
    s.roots.forEach((r) => {
      const row = el("div", { className: "dir", textContent: r.path });
      row.onclick = () => show(r.index, "");
      container.append(row);
    });
    s.files.forEach((f) => {
      const row = el("div", { className: "file", textContent: f });
      row.onclick = () => onFile ? onFile({ root: null, path: f }) : onAdd({ root: null, path: f, name: f });
      container.append(row);
    });
  }
  return { show, roots };
}

function humanSize(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0, v = n;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return i ? `${v.toFixed(1)} ${units[i]}` : `${v} B`;
}

// --- the viewer ----------------------------------------------------------------------

const viewer = OpenSeadragon({
  element: $("#osd"),
  prefixUrl: "/static/vendor/openseadragon/images/",
  showNavigator: true,
  maxZoomPixelRatio: 8,
  imageSmoothingEnabled: false,
  crossOriginPolicy: false,
  loadTilesWithAjax: true,
  ajaxHeaders: { "X-Ometiff-Token": TOKEN },
});
$("#osd").dataset.tiles = "none";
window.ometiffViewer = viewer;

function tileUrl(level, x, y) {
  const f = state.file;
  const params = new URLSearchParams({ t: state.t, z: state.z });
  state.channels.forEach((ch, i) => {
    if (ch.visible) params.append("ch", `${i}:${ch.color}:${ch.lo}:${ch.hi}`);
  });
  return `/api/tile/${f.key}/${state.series}/${level}/${x}_${y}.png?${params}`;
}

function currentSeries() { return state.file.series[state.series]; }

function refreshTiles() {
  if (!state.file) return;
  state.generation += 1;
  const s = currentSeries();
  const generation = state.generation;
  $("#osd").dataset.tiles = "loading";
  const source = {
    width: s.size.x, height: s.size.y, tileSize: s.tile, tileOverlap: 0,
    minLevel: 0, maxLevel: s.max_zoom,
    getTileUrl: (level, x, y) => tileUrl(level, x, y),
  };
  const previous = viewer.world.getItemCount();
  viewer.addTiledImage({
    tileSource: source,
    index: 0,
    replace: previous > 0,
    success: (event) => {
      const item = event.item;
      const done = () => {
        if (generation === state.generation && item.getFullyLoaded()) {
          $("#osd").dataset.tiles = "ready";
          $("#osd").dataset.generation = generation;
        }
      };
      item.addHandler("fully-loaded-change", done);
      done();
    },
    error: (event) => showError(event.message || "the tiles cannot be shown"),
  });
}
viewer.addHandler("tile-load-failed", async (event) => {
  // ask the server again for the tile to show its one-line reason
  const url = event.tile && (event.tile.getUrl ? event.tile.getUrl() : event.tile.url);
  try {
    if (url) await api(url);
    showError(event.message || "a tile cannot be read");
  } catch (e) { showError(e.message); }
});
viewer.addHandler("animation-finish", () => {
  const item = viewer.world.getItemAt(0);
  if (item && item.getFullyLoaded()) $("#osd").dataset.tiles = "ready";
});

async function openFile(spec) {
  clearError();
  try {
    const data = await api("/api/open", spec);
    state.file = data;
    $("#current-file").textContent = data.path;
    const sel = $("#series");
    sel.replaceChildren(...data.series.map((s) => el("option", {
      value: s.index, textContent: `${s.index}: ${s.name || "(unnamed)"} ${s.size.x}×${s.size.y}`,
    })));
    $("#controls").hidden = false;
    $("#panel-meta").replaceChildren(el("p", { className: "muted", textContent: "reading…" }));
    $("#panel-validation").replaceChildren(el("p", { className: "muted", textContent: "Open this tab to validate." }));
    $("#panel-diagram").replaceChildren();
    loadedPanels.clear();
    const active = document.querySelector(".ptab.active").dataset.panel;
    if (active !== "meta") showPanel(active);
    await chooseSeries(0);
    // the `info --json` document after the first tiles are on their way
    data.info = await api(`/api/info/${data.key}`);
    if (state.file === data) renderMetadata(data);
  } catch (e) { showError(e.message); }
}

async function chooseSeries(index) {
  state.series = index;
  $("#series").value = String(index);
  const s = currentSeries();
  state.t = 0;
  state.z = Math.floor(s.size.z / 2);
  for (const [axis, size] of [["z", s.size.z], ["t", s.size.t]]) {
    const input = $(`#${axis}`);
    input.max = size - 1;
    input.value = state[axis];
    $(`#${axis}-value`).textContent = state[axis];
    $(`#${axis}-row`).hidden = size <= 1;
  }
  state.channels = s.channels.map((c) => ({
    name: c.name, visible: true, color: c.color, lo: 0, hi: 1, hist: null,
  }));
  await Promise.all(state.channels.map((_, i) => loadHistogram(i, true)));
  renderChannels();
  refreshTiles();
  updateScaleBar();
}

async function loadHistogram(i, setAuto) {
  const hist = await api(`/api/histogram/${state.file.key}?series=${state.series}&t=${state.t}&z=${state.z}&c=${i}`);
  const ch = state.channels[i];
  ch.hist = hist;
  if (setAuto) { ch.lo = round(hist.auto[0]); ch.hi = round(hist.auto[1]); }
}
const round = (v) => Math.round(v * 1000) / 1000;

function renderChannels() {
  const box = $("#channels");
  box.replaceChildren();
  state.channels.forEach((ch, i) => {
    const visible = el("input", { type: "checkbox", checked: ch.visible, className: "visible" });
    visible.onchange = () => { ch.visible = visible.checked; refreshTiles(); };
    const color = el("input", { type: "color", value: `#${ch.color}`, className: "color" });
    color.onchange = () => { ch.color = color.value.slice(1); drawHistogram(i); refreshTiles(); };
    const lo = el("input", { type: "number", value: ch.lo, className: "lo", step: "any" });
    const hi = el("input", { type: "number", value: ch.hi, className: "hi", step: "any" });
    const apply = () => {
      ch.lo = Number(lo.value); ch.hi = Number(hi.value);
      if (!(ch.hi > ch.lo)) { ch.hi = ch.lo + 1; hi.value = ch.hi; }
      drawHistogram(i); refreshTiles();
    };
    lo.onchange = apply; hi.onchange = apply;
    const auto = el("button", { textContent: "auto", className: "auto", title: "0.1–99.9 percentiles" });
    auto.onclick = () => { lo.value = round(ch.hist.auto[0]); hi.value = round(ch.hist.auto[1]); apply(); };
    const canvas = el("canvas", { width: 256, height: 48 });
    const div = el("div", { className: "channel" },
      el("div", { className: "head" }, visible, color, el("span", { className: "name", textContent: ch.name })),
      canvas,
      el("div", {}, "min ", lo, " max ", hi, " ", auto),
      el("div", { className: "muted range", textContent: ch.hist ? `data ${ch.hist.min} – ${ch.hist.max}` : "" }));
    div.dataset.channel = i;
    box.append(div);
    drawHistogram(i);
  });
}

function drawHistogram(i) {
  const ch = state.channels[i];
  const canvas = document.querySelector(`.channel[data-channel="${i}"] canvas`);
  if (!canvas || !ch.hist || !ch.hist.counts.length) return;
  const g = canvas.getContext("2d");
  const { counts, min, max } = ch.hist;
  const top = Math.log1p(Math.max(...counts));
  g.clearRect(0, 0, 256, 48);
  g.fillStyle = `#${ch.color}`;
  counts.forEach((n, x) => {
    const h = top ? (Math.log1p(n) / top) * 46 : 0;
    g.fillRect(x, 48 - h, 1, h);
  });
  const pos = (v) => ((v - min) / ((max - min) || 1)) * 256;
  g.fillStyle = "#fff";
  g.fillRect(Math.max(0, Math.min(255, pos(ch.lo))), 0, 1, 48);
  g.fillRect(Math.max(0, Math.min(255, pos(ch.hi))), 0, 1, 48);
}

$("#series").onchange = () => chooseSeries(Number($("#series").value));
for (const axis of ["z", "t"]) {
  $(`#${axis}`).oninput = () => { $(`#${axis}-value`).textContent = $(`#${axis}`).value; };
  $(`#${axis}`).onchange = async () => {
    state[axis] = Number($(`#${axis}`).value);
    $(`#${axis}-value`).textContent = state[axis];
    try {
      await Promise.all(state.channels.map((_, i) => loadHistogram(i, false)));
      state.channels.forEach((_, i) => drawHistogram(i));
    } catch (e) { showError(e.message); }
    refreshTiles();
  };
}

// scale bar from the physical pixel size (µm)
function updateScaleBar() {
  const bar = $("#scalebar");
  const s = state.file && currentSeries();
  const item = viewer.world.getItemAt(0);
  if (!s || !s.physical_size.x || !item) { bar.hidden = true; return; }
  const screenPerPixel = item.viewportToImageZoom(viewer.viewport.getZoom(true));
  const umPerScreen = s.physical_size.x / screenPerPixel;
  const target = umPerScreen * 120;
  const p = Math.pow(10, Math.floor(Math.log10(target)));
  const nice = [1, 2, 5, 10].map((m) => m * p).filter((v) => v <= target).pop() || p;
  const width = nice / umPerScreen;
  $("#scalebar-bar").style.width = `${width}px`;
  $("#scalebar-text").textContent = nice >= 1000 ? `${nice / 1000} mm` : nice >= 1 ? `${nice} µm` : `${nice * 1000} nm`;
  bar.dataset.um = nice;
  bar.hidden = false;
}
viewer.addHandler("animation", updateScaleBar);
viewer.addHandler("open", updateScaleBar);
viewer.world.addHandler("add-item", () => setTimeout(updateScaleBar, 0));

// pixel values under the cursor
let valueTimer = null;
new OpenSeadragon.MouseTracker({
  element: viewer.canvas,
  moveHandler: (event) => {
    const item = viewer.world.getItemAt(0);
    if (!item || !state.file) return;
    const point = item.viewerElementToImageCoordinates(event.position);
    const x = Math.floor(point.x), y = Math.floor(point.y);
    clearTimeout(valueTimer);
    valueTimer = setTimeout(async () => {
      try {
        const v = await api(`/api/value/${state.file.key}?series=${state.series}&t=${state.t}&z=${state.z}&x=${x}&y=${y}`);
        $("#pixel").textContent = v.values === null ? "" :
          `x ${x} y ${y}: ` + v.values.map((val, i) => `${state.channels[i].name} ${val}`).join("  ");
        $("#pixel").dataset.x = x; $("#pixel").dataset.y = y;
      } catch (e) { showError(e.message); }
    }, 60);
  },
});

// --- the panels: metadata (the `info --json` document), validation, diagram ----------

function renderMetadata(data) {
  const info = data.info;
  const box = $("#panel-meta");
  box.replaceChildren();
  const rows = [["path", info.path], ["format", info.format], ["variant", info.variant],
    ["file size", humanSize(info.file_size)]];
  if (info.schema_version) rows.push(["OME schema", info.schema_version]);
  if (info.creator) rows.push(["creator", info.creator]);
  if (info.files && info.files.length > 1) rows.push(["files", `${info.files.length} files`]);
  box.append(table(rows));
  for (const s of info.series) {
    const section = el("div", { className: "meta-series" });
    Object.assign(section.dataset, { index: s.index, sizeX: s.size_x, sizeY: s.size_y,
      sizeZ: s.size_z, sizeC: s.size_c, sizeT: s.size_t });
    section.append(el("h3", { textContent: `Series ${s.index}${s.name ? ": " + s.name : ""}` }));
    const um = (v) => (v === null || v === undefined ? "—" : `${Number(v.toPrecision(6))} µm`);
    section.append(table([
      ["size", `X ${s.size_x} × Y ${s.size_y} × Z ${s.size_z} × C ${s.size_c} × T ${s.size_t}`],
      ["pixel type", `${s.dtype} (${s.dimension_order})`],
      ["pixel size", `X ${um(s.physical_size_x)}, Y ${um(s.physical_size_y)}, Z ${um(s.physical_size_z)}`],
      ["levels", s.levels.map(([h, w]) => `${w}×${h}`).join(", ") || "1"],
    ]));
    const ch = el("table", { className: "meta-channels" });
    ch.append(el("tr", {}, ...["#", "name", "colour", "ex / em nm"].map((h) => el("th", { textContent: h }))));
    s.channels.forEach((c, i) => {
      const swatch = el("span", { className: "swatch" });
      if (c.color) swatch.style.background = c.color.slice(0, 7);
      ch.append(el("tr", {},
        el("td", { textContent: i }),
        el("td", { className: "meta-channel-name", textContent: c.name || "(unnamed)" }),
        el("td", {}, swatch, ` ${c.color || ""}`),
        el("td", { textContent: `${c.excitation_nm || "—"} / ${c.emission_nm || "—"}` })));
    });
    section.append(ch);
    box.append(section);
  }
  for (const w of info.warnings || []) box.append(el("p", { className: "issue-warning", textContent: `warning: ${w}` }));
  for (const p of info.problems || []) box.append(el("p", { className: "issue-error", textContent: `problem: ${p}` }));
  const raw = el("details", {}, el("summary", { textContent: "JSON (ometiff info --json)" }),
    el("pre", { textContent: JSON.stringify(info, null, 2) }));
  box.append(raw);
}

function table(rows) {
  const t = el("table");
  for (const [k, v] of rows) t.append(el("tr", {}, el("th", { textContent: k }), el("td", { textContent: v })));
  return t;
}

const loadedPanels = new Set();
async function showPanel(name) {
  document.querySelectorAll(".ptab").forEach((b) => b.classList.toggle("active", b.dataset.panel === name));
  document.querySelectorAll(".panel").forEach((p) => { p.hidden = p.id !== `panel-${name}`; });
  if (!state.file || loadedPanels.has(name) || name === "meta") return;
  loadedPanels.add(name);
  const box = $(`#panel-${name}`);
  box.replaceChildren(el("p", { className: "muted", textContent: "working…" }));
  try {
    if (name === "validation") {
      const report = await api(`/api/validate/${state.file.key}`);
      box.replaceChildren(el("p", { className: report.ok ? "ok" : "issue-error",
        textContent: `${report.ok ? "✓ valid" : "✗ invalid"}: ${report.issues.length} finding(s)` }));
      const list = el("ul", { id: "issues" });
      for (const issue of report.issues) {
        list.append(el("li", { className: `issue-${issue.severity}` },
          el("code", { textContent: issue.code }), ` ${issue.loc || ""}: ${issue.message}`));
      }
      box.append(list);
    } else if (name === "diagram") {
      const response = await fetch(`/api/diagram/${state.file.key}`, { headers: { "X-Ometiff-Token": TOKEN } });
      if (!response.ok) throw new Error((await response.json()).error);
      const url = URL.createObjectURL(await response.blob());
      const img = el("img", { id: "diagram-img", alt: "layout of the file", src: url });
      const link = el("a", { href: url, target: "_blank", title: "full size" }, img);
      box.replaceChildren(link, el("p", { className: "muted", textContent: "ometiff info --diagram; click for full size" }));
    }
  } catch (e) {
    loadedPanels.delete(name);
    box.replaceChildren(el("p", { className: "issue-error", textContent: e.message }));
  }
}
document.querySelectorAll(".ptab").forEach((b) => { b.onclick = () => showPanel(b.dataset.panel); });

// --- pages -------------------------------------------------------------------------

function showPage(name) {
  document.querySelectorAll(".tab").forEach((b) => b.classList.toggle("active", b.dataset.page === name));
  document.querySelectorAll(".page").forEach((p) => { p.hidden = p.id !== `page-${name}`; });
  if (name === "viewer") viewer.forceRedraw();
}
document.querySelectorAll(".tab").forEach((b) => { b.onclick = () => showPage(b.dataset.page); });

// --- the converter -------------------------------------------------------------------

const inputs = [];
function addInput(spec) {
  if (inputs.some((i) => i.root === spec.root && i.path === spec.path)) return;
  inputs.push(spec);
  renderInputs();
}
function renderInputs() {
  const ul = $("#inputs");
  ul.replaceChildren(...inputs.map((spec, i) => {
    const remove = el("button", { textContent: "×" });
    remove.onclick = () => { inputs.splice(i, 1); renderInputs(); };
    const root = spec.root === null ? "" : `${state.session.roots[spec.root].path}/`;
    return el("li", {}, `${root}${spec.path} `, remove);
  }));
}
$("#add-path").onsubmit = (ev) => {
  ev.preventDefault();
  const text = $("#add-path-input").value.trim();
  if (text) addInput({ root: null, path: text });
  $("#add-path-input").value = "";
};
const drop = $("#drop");
drop.ondragover = (ev) => { ev.preventDefault(); drop.classList.add("over"); };
drop.ondragleave = () => drop.classList.remove("over");
drop.ondrop = (ev) => {
  ev.preventDefault();
  drop.classList.remove("over");
  const text = ev.dataTransfer.getData("text/uri-list") || ev.dataTransfer.getData("text/plain");
  for (let line of text.split(/\r?\n/)) {
    line = line.trim();
    if (!line || line.startsWith("#")) continue;
    if (line.startsWith("file://")) line = decodeURIComponent(new URL(line).pathname);
    addInput({ root: null, path: line });
  }
  if (!text && ev.dataTransfer.files.length) {
    showError("a browser does not tell the page where a dropped file lives; drop its path (text) or choose it above");
  }
};

function indices(text, what) {
  text = text.trim();
  if (!text || text === "all") return null;
  const out = [];
  for (const part of text.split(",")) {
    const m = part.trim().match(/^(\d+)(?:-(\d+))?$/);
    if (!m) throw new Error(`${what} ${JSON.stringify(text)}: give 0-based indices and ranges, e.g. 0,2,4-6`);
    const a = Number(m[1]), b = m[2] === undefined ? a : Number(m[2]);
    for (let k = a; k <= b; k++) out.push(k);
  }
  return out;
}

// the output format follows the name's ending (convert decides by it): keep them in step
function formatOf(name) { return /\.ome\.zarr$/i.test(name) ? "zarr" : "tiff"; }
$("#opt-format").onchange = () => {
  const name = $("#out-name").value.trim() || "converted";
  const stem = name.replace(/\.ome\.(tiff?|btf|tf2|tf8|zarr)$/i, "");
  $("#out-name").value = stem + ($("#opt-format").value === "tiff" ? ".ome.tif" : ".ome.zarr");
};
$("#out-name").onchange = () => {
  const wanted = formatOf($("#out-name").value.trim());
  if (wanted !== ($("#opt-format").value === "tiff" ? "tiff" : "zarr")) $("#opt-format").value = wanted;
};

$("#convert-go").onclick = async () => {
  clearError();
  try {
    if (!inputs.length) throw new Error("choose at least one input");
    const dir = $("#out-dir").value.trim();
    const name = $("#out-name").value.trim();
    const pyramid = $("#opt-pyramid").value.trim() || "auto";
    const body = {
      sources: inputs.map(({ root, path }) => ({ root, path })),
      output: { root: Number($("#out-root").value), path: dir ? `${dir}/${name}` : name },
      options: {
        compression: $("#opt-compression").value,
        ...($("#opt-format").value === "tiff" ? {
          tile: $("#opt-tile").value ? Number($("#opt-tile").value) : null,
          split: $("#opt-split").value || null,
          companion: $("#opt-companion").checked,
        } : { ngff: $("#opt-format").value === "zarr04" ? "0.4" : "0.5" }),
        pyramid: /^\d+$/.test(pyramid) ? Number(pyramid) : pyramid,
        series: indices($("#opt-series").value, "series"),
        channels: indices($("#opt-channels").value, "channels"),
        z: indices($("#opt-z").value, "z"),
        t: indices($("#opt-t").value, "t"),
        overwrite: $("#opt-overwrite").checked,
        verify: $("#opt-verify").checked,
      },
    };
    await api("/api/jobs", body);
    pollJobs();
  } catch (e) { showError(e.message); }
};

let polling = null;
async function pollJobs() {
  clearTimeout(polling);
  try {
    const jobs = await api("/api/jobs");
    renderJobs(jobs);
    if (jobs.some((j) => j.state === "queued" || j.state === "running")) polling = setTimeout(pollJobs, 400);
  } catch (e) { showError(e.message); }
}

function renderJobs(jobs) {
  const body = $("#jobs tbody");
  body.replaceChildren(...jobs.map((j) => {
    const tr = el("tr", { className: `job job-${j.state}` });
    tr.dataset.job = j.id;
    tr.dataset.state = j.state;
    const what = el("td", {}, `${j.sources.map((s) => s.split("/").pop()).join(", ")} → ${j.output}`);
    if (j.error) what.append(el("div", { className: "job-error", textContent: j.error }));
    if (j.state === "done") {
      const r = el("details", { className: "receipt" }, el("summary", { textContent: "receipt" }));
      for (const rec of j.receipts) {
        r.append(el("div", { textContent:
          `${rec.source} → ${rec.outputs.join(", ")} (${rec.reader}, ${rec.series.length} series, ` +
          `${rec.planes_written} planes written, ${rec.planes_verified} verified, ${rec.seconds} s)` }));
        for (const u of rec.unmapped) r.append(el("div", { className: "muted", textContent: `not mapped: ${u.source}: ${u.reason}` }));
      }
      r.append(el("pre", { textContent: JSON.stringify(j.receipts, null, 2) }));
      what.append(r);
    }
    const bar = el("progress", { max: j.total || 1, value: j.done });
    const cancel = el("button", { textContent: "cancel", className: "cancel",
      disabled: !(j.state === "queued" || j.state === "running") });
    cancel.onclick = async () => { try { await api(`/api/jobs/${j.id}/cancel`, {}); pollJobs(); } catch (e) { showError(e.message); } };
    const left = j.state === "running" && j.seconds_left !== null ? `${Math.round(j.seconds_left)} s` : "";
    tr.append(el("td", { textContent: j.id }), what, el("td", { textContent: j.state }),
      el("td", {}, bar, ` ${j.stage} ${j.done}/${j.total}`), el("td", { textContent: left }), el("td", {}, cancel));
    return tr;
  }));
}

// --- start -----------------------------------------------------------------------------

(async () => {
  try {
    state.session = await api("/api/session");
    $("#version").textContent = `ometiff ${state.session.version}`;
    $("#open-path").onsubmit = (ev) => {
      ev.preventDefault();
      const text = $("#path-input").value.trim();
      if (text) openFile({ root: null, path: text });
    };
    const files = browser($("#browser"), { onFile: openFile });
    const cfiles = browser($("#cbrowser"), { onAdd: addInput });
    $("#out-root").replaceChildren(...state.session.roots.map((r) => el("option", { value: r.index, textContent: r.path })));
    if (state.session.roots.length === 1 && !state.session.files.length) {
      files.show(0, ""); cfiles.show(0, "");
    } else { files.roots(); cfiles.roots(); }
    document.body.dataset.ready = "true";
    if (state.session.opened.length) await openFile({ root: null, path: state.session.opened[0] });
    pollJobs();
  } catch (e) { showError(e.message); }
})();
