// Draws the dashboard's charts with Chart.js (vendored) from the JSON next to each canvas.
(function () {
  "use strict";

  function percentAxis(horizontal) {
    var axis = { min: 0, max: 100, ticks: { callback: function (value) { return value + "%"; } } };
    return horizontal ? { x: axis } : { y: axis };
  }

  var COLOURS = ["#1d6b3a", "#b4561e"];

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
    var datasets = spec.datasets.map(function (dataset, index) {
      var colour = COLOURS[index % COLOURS.length];
      return Object.assign({}, dataset, {
        type: !ranking && index === 1 ? "line" : "bar",
        backgroundColor: colour,
        borderColor: colour,
        spanGaps: true
      });
    });
    new window.Chart(canvas, {
      type: "bar",
      data: { labels: spec.labels, datasets: datasets },
      options: {
        indexAxis: ranking ? "y" : "x",
        animation: false,
        maintainAspectRatio: false,
        responsive: true,
        scales: percentAxis(ranking),
        plugins: {
          legend: { display: !ranking },
          tooltip: { callbacks: { label: function (item) { return item.dataset.label + ": " + item.formattedValue + "%"; } } }
        }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    draw("monthly-chart");
    draw("ranking-chart");
  });
})();
