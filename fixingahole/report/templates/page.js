// fixing-a-hole pages: sortable and filterable tables, then the charts once plotly.js is unpacked.
"use strict";

function sortTable(table, column, th) {
  const body = table.tBodies[0];
  const ascending = th.getAttribute("aria-sort") !== "ascending";
  for (const other of table.tHead.rows[0].cells) other.removeAttribute("aria-sort");
  th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  const numeric = th.classList.contains("num");
  const key = (row) => {
    const cell = row.cells[column];
    const raw = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent;
    return numeric ? parseFloat(raw) || 0 : raw.toLowerCase();
  };
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = key(a), y = key(b);
    const order = x < y ? -1 : x > y ? 1 : 0;
    return ascending ? order : -order;
  });
  for (const row of rows) body.appendChild(row);
}

function setUpTables() {
  for (const table of document.querySelectorAll("table.sortable")) {
    Array.from(table.tHead.rows[0].cells).forEach((th, i) => {
      th.addEventListener("click", () => sortTable(table, i, th));
    });
  }
  for (const input of document.querySelectorAll("input.filter")) {
    const table = document.getElementById(input.dataset.table);
    const counter = document.getElementById(input.dataset.table + "-count");
    input.addEventListener("input", () => {
      const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      let shown = 0;
      for (const row of table.tBodies[0].rows) {
        const text = row.textContent.toLowerCase();
        const keep = words.every((w) => text.includes(w));
        row.hidden = !keep;
        if (keep) shown += 1;
      }
      if (counter) counter.textContent = shown + " of " + table.tBodies[0].rows.length + " shown";
    });
  }
}

async function loadPlotly() {
  const packed = document.getElementById("fah-plotly");
  if (!packed) return false;
  const bytes = Uint8Array.from(atob(packed.textContent.trim()), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  const code = await new Response(stream).text();
  const script = document.createElement("script");
  script.text = code;
  document.head.appendChild(script);
  return typeof window.Plotly !== "undefined";
}

async function drawCharts() {
  const charts = JSON.parse(document.getElementById("fah-charts").textContent);
  if (charts.length && (await loadPlotly())) {
    for (const chart of charts) {
      const div = document.getElementById(chart.id);
      if (!div) continue;
      const layout = Object.assign({ margin: { l: 60, r: 20, t: 30, b: 50 }, font: { size: 12 } }, chart.layout);
      await Plotly.newPlot(div, chart.data, layout, { displaylogo: false, responsive: true });
    }
  } else if (charts.length) {
    for (const chart of charts) {
      const div = document.getElementById(chart.id);
      if (div) div.textContent = "This browser cannot unpack the charts (it lacks DecompressionStream).";
    }
  }
}

setUpTables();
drawCharts()
  .catch((error) => console.error("fixing-a-hole: a chart could not be drawn:", error))
  .finally(() => { document.body.dataset.ready = "1"; });
