// The trends page (R112): draws each chart with Chart.js (served from the app's own /vendor/chartjs/) from the table of
// numbers printed beside it, so the chart and the table can never disagree. Without JavaScript the tables remain.
(function () {
  "use strict";
  var COLOURS = ["#1d4ed8", "#b45309", "#047857", "#7c3aed", "#be123c", "#0e7490", "#4d7c0f", "#475569"];

  function number(cell) {
    var text = cell ? cell.getAttribute("data-value") : "";
    return text === "" || text === null ? null : Number(text);
  }

  function draw(table) {
    var canvas = document.getElementById(table.getAttribute("data-chart"));
    if (!canvas || !window.Chart) { return; }
    var heads = Array.prototype.map.call(table.tHead.rows[0].cells, function (th) {
      return { key: th.getAttribute("data-key"), label: th.textContent.trim() };
    });
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var labels = rows.map(function (tr) { return tr.cells[0].textContent.trim(); });
    var kind = table.getAttribute("data-kind") === "bar" ? "bar" : "line";
    var stacked = table.getAttribute("data-stacked") === "true";
    var series = (table.getAttribute("data-series") || "").split(" ").filter(Boolean);
    var datasets = series.map(function (key, n) {
      var column = heads.findIndex(function (h) { return h.key === key; });
      return {
        label: column >= 0 ? heads[column].label : key,
        data: rows.map(function (tr) { return number(tr.cells[column]); }),
        backgroundColor: COLOURS[n % COLOURS.length],
        borderColor: COLOURS[n % COLOURS.length],
        spanGaps: true
      };
    });
    var y = { beginAtZero: true, stacked: stacked };
    if (table.getAttribute("data-max")) { y.max = Number(table.getAttribute("data-max")); }
    var chart = new window.Chart(canvas, {
      type: kind,
      data: { labels: labels, datasets: datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: { x: { stacked: stacked }, y: y },
        plugins: { legend: { position: "bottom" } }
      }
    });
    canvas.setAttribute("data-drawn", String(chart.data.datasets.length));
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("table.trend-table"), draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
