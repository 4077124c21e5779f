// Draws the charts of the Planning and Reports pages. Each chart is an element with
// data-figure="<id>" whose figure (data + layout) is JSON in <script type="application/json"
// id="<id>">: no inline script runs, so the Content Security Policy keeps script-src 'self'.
(function () {
  "use strict";

  var CONFIG = { responsive: true, displaylogo: false };

  function draw(root) {
    if (typeof window.Plotly === "undefined") {
      return;
    }
    var scope = root && root.querySelectorAll ? root : document;
    var boxes = scope.querySelectorAll("[data-figure]");
    Array.prototype.forEach.call(boxes, function (el) {
      if (el.getAttribute("data-drawn") === "1") {
        return;
      }
      var island = document.getElementById(el.getAttribute("data-figure"));
      if (!island) {
        return;
      }
      var figure;
      try {
        figure = JSON.parse(island.textContent);
      } catch (err) {
        console.error("chart data is not JSON:", el.getAttribute("data-figure"), err);
        return;
      }
      el.setAttribute("data-drawn", "1");
      window.Plotly.newPlot(el, figure.data || [], figure.layout || {}, CONFIG);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    draw(document);
  });
  // Results that arrive by HTMX (the Planning forms) carry their own charts.
  document.addEventListener("htmx:afterSettle", function (event) {
    draw(event.target);
  });
  // A form with mistakes answers 422 with the mistakes: show them where the result goes.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail && event.detail.xhr;
    if (xhr && xhr.status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
