// Character counters for long text fields (data-max); no inline scripts (CSP).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("textarea[data-max]").forEach(function (area) {
    var max = parseInt(area.getAttribute("data-max"), 10);
    var counter = document.querySelector('[data-counter-for="' + area.id + '"]');
    if (!counter || !max) { return; }
    var update = function () {
      var used = area.value.length;
      counter.textContent = used + " / " + max;
      counter.classList.toggle("counter-over", used > max);
    };
    area.addEventListener("input", update);
    update();
  });
});
