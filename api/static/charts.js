// Draws the dashboard's charts with Chart.js (vendored) from the JSON next to each canvas.
// The server gives the scale (fitted to the data), the axis titles, the target line, the locale and the
// unit, so that labels and tooltips read "95,8 %" in Vietnamese; no inline script or style (CSP).
(function () {
  "use strict";

  var COLOURS = ["#1d6b3a", "#b4561e", "#7a869a"];
  var TARGET_COLOUR = "#b3261e";

  function formatter(spec) {
    var number = new Intl.NumberFormat(spec.locale, { minimumFractionDigits: 0, maximumFractionDigits: 1 });
    return function (value) {
      return value === null || value === undefined ? "—" : number.format(value) + spec.unit;
    };
  }

  function draw(canvasId) {
    var canvas = document.getElementById(canvasId);
    var source = document.getElementById(canvasId + "-data");
    if (!canvas || !source || !window.Chart) return;
    var spec = JSON.parse(source.textContent);
    var box = canvas.parentNode;
    if (box.hasAttribute("data-height")) {  // set here, not in a style attribute: the CSP allows no inline style
      box.style.height = box.getAttribute("data-height") + "px";
    }
    var ranking = spec.type === "ranking";
    var format = formatter(spec);
    var datasets = spec.datasets.map(function (dataset, index) {
      var colour = COLOURS[index % COLOURS.length];
      var line = !ranking && index > 0;
      return Object.assign({}, dataset, {
        type: line ? "line" : "bar",
        backgroundColor: colour,
        borderColor: colour,
        borderDash: index === 2 ? [4, 4] : [],
        pointRadius: line ? 3 : undefined,
        spanGaps: true,
        order: line ? 1 : 2
      });
    });
    if (spec.target) {  // the target as a dataset: a flat dashed line, no plugin needed
      datasets.push({
        type: "line",
        label: spec.target.label,
        data: spec.labels.map(function () { return spec.target.value; }),
        borderColor: TARGET_COLOUR,
        backgroundColor: TARGET_COLOUR,
        borderDash: [6, 4],
        borderWidth: 2,
        // across months a dashed line; across agencies (one point each) a vertical mark at each bar
        showLine: !ranking,
        pointStyle: "line",
        rotation: ranking ? 90 : 0,
        pointRadius: ranking ? 12 : 0,
        pointHitRadius: 0,
        indexAxis: ranking ? "y" : "x",
        order: 0
      });
    }
    var valueAxis = {
      min: spec.scale.min,
      max: spec.scale.max,
      title: { display: true, text: spec.axis.value },
      ticks: { callback: function (value) { return format(value); } }
    };
    var categoryAxis = { title: { display: true, text: spec.axis.category } };
    new window.Chart(canvas, {
      type: "bar",
      data: { labels: spec.labels, datasets: datasets },
      options: {
        indexAxis: ranking ? "y" : "x",
        animation: false,
        maintainAspectRatio: false,
        responsive: true,
        locale: spec.locale,
        scales: ranking ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis },
        plugins: {
          legend: { display: true, position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (item) {
                var value = ranking ? item.parsed.x : item.parsed.y;
                return item.dataset.label + ": " + format(value);
              }
            }
          }
        }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    draw("monthly-chart");
    draw("ranking-chart");
  });
})();
