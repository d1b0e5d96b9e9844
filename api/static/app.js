// Progressive enhancement for the motcua pages: every page works without it.
(function () {
  "use strict";

  // A form with data-confirm asks before it is sent (recording an event, adding an override…).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  // A menu group closes when another opens, on a click elsewhere and on Escape.
  function closeMenus(except) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (menu !== except) menu.removeAttribute("open");
    });
  }
  document.addEventListener("click", function (event) {
    closeMenus(event.target.closest ? event.target.closest("details.menu") : null);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closeMenus(null);
  });

  // The procedure search box updates its list as the clerk types (htmx); Enter must not reload the page.
  document.addEventListener("DOMContentLoaded", function () {
    var search = document.getElementById("procedure-search");
    var box = document.getElementById("procedure-q");
    if (search && box && window.htmx) {
      search.addEventListener("submit", function (event) {
        event.preventDefault();
        window.htmx.trigger(box, "search");
      });
    }
    document.querySelectorAll("table.sortable").forEach(makeSortable);
  });

  // Tables with class "sortable": a button in each column header sorts the body rows by that column.
  function makeSortable(table) {
    var headers = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(headers, function (th, column) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.title = table.getAttribute("data-sort-label") || "";
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(headers, function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        sortRows(table.tBodies[0], column, th.getAttribute("data-type") === "number", ascending);
      });
    });
  }

  function sortRows(body, column, numeric, ascending) {
    var rows = Array.prototype.slice.call(body.rows);
    function key(row) {
      var cell = row.cells[column];
      var value = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
      if (!numeric) return value.toLocaleLowerCase();
      var number = parseFloat(value);
      return isNaN(number) ? -Infinity : number;
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      var order = numeric ? x - y : x.localeCompare(y, document.documentElement.lang);
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
})();

// Dates are typed day first, dd/mm/yyyy hh:mm, whatever the browser's locale: the separators come by
// themselves as the digits are typed ("02" → "02/"); the server reads the text (parse_day_first).
(function () {
  "use strict";
  var NEXT = [[/^\d{2}$/, "/"], [/^\d{1,2}\/\d{2}$/, "/"], [/^\d{1,2}\/\d{1,2}\/\d{4}$/, " "], [/^\d{1,2}\/\d{1,2}\/\d{4} \d{2}$/, ":"]];
  document.addEventListener("input", function (event) {
    var input = event.target;
    var kind = input.getAttribute && input.getAttribute("data-date-mask");
    if (!kind || event.inputType !== "insertText" || input.selectionStart !== input.value.length) return;
    for (var i = 0; i < (kind === "date" ? 2 : NEXT.length); i++) {
      if (NEXT[i][0].test(input.value)) {
        input.value += NEXT[i][1];
        return;
      }
    }
  });
})();
