// Character counters for long text fields (data-max); no inline scripts (CSP).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("textarea[data-max]").forEach(function (area) {
    var max = parseInt(area.getAttribute("data-max"), 10);
    var counter = document.querySelector('[data-counter-for="' + area.id + '"]');
    if (!counter || !max) { return; }
    var update = function () {
      // Characters as the server counts them (escucha.tickets.rules.visible_length):
      // NFC code points; the textarea's value already has "\n" line breaks.
      var used = Array.from(area.value.normalize("NFC")).length;
      counter.textContent = used + " / " + max;
      counter.setAttribute("data-count", String(used));
    };
    area.addEventListener("input", update);
    update();
  });
});

// Attached files over the form's limits are caught before sending: the server would refuse
// the whole body (413) and the text with it.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (input) {
    var maxBytes = parseInt(input.getAttribute("data-max-bytes"), 10);
    var maxFiles = parseInt(input.getAttribute("data-max-files"), 10);
    input.addEventListener("change", function () {
      var total = 0;
      Array.prototype.forEach.call(input.files, function (f) { total += f.size; });
      var over = total > maxBytes || input.files.length > maxFiles;
      input.setCustomValidity(over ? input.getAttribute("data-too-large") : "");
      if (over) { input.reportValidity(); }
    });
  });
});
