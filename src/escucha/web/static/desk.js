// The agent desktop and the wallboard: live connection status, the handle-time clock
// (information only: it never changes colour and never stops anything), errors shown in place,
// and a live update that never wipes what the agent is typing when nothing changed.
(function () {
  "use strict";

  // Screens here never carry inline styles (the Content Security Policy forbids them), so
  // htmx must not copy a "style" attribute from the old element when it settles a swap.
  if (window.htmx) {
    window.htmx.config.attributesToSettle = ["class", "width", "height"];
  }

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function fmt(total) {
    total = Math.max(0, Math.floor(total));
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-elapsed-s][data-ticking]").forEach(function (el) {
      if (!el.dataset.loadedAt) { el.dataset.loadedAt = String(now); }
      var base = parseFloat(el.dataset.elapsedS) || 0;
      el.textContent = fmt(base + (now - parseFloat(el.dataset.loadedAt)) / 1000);
    });
  }
  setInterval(tick, 1000);

  function setConn(live) {
    document.querySelectorAll("[data-conn]").forEach(function (el) {
      el.textContent = live ? el.dataset.live : el.dataset.lost;
      el.classList.toggle("conn-live", live);
      el.classList.toggle("conn-lost", !live);
    });
  }
  document.addEventListener("htmx:sseOpen", function () { setConn(true); });
  document.addEventListener("htmx:sseError", function () { setConn(false); });

  // The same desk again (same fingerprint): keep the page as it is, with what is being typed.
  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    var target = event.target;
    var current = target && target.querySelector ? target.querySelector("[data-fp]") : null;
    var data = event.detail && typeof event.detail.data === "string" ? event.detail.data : "";
    var match = /data-fp="([^"]*)"/.exec(data);
    if (current && match && current.getAttribute("data-fp") === match[1]) {
      event.preventDefault();
    }
  });

  // A refused action (409, 422, 404) comes back as the desk with the reason: show it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    var target = event.detail.target;
    if ((status === 404 || status === 409 || status === 422) && target && target.closest && target.closest("[data-swap-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // Not solved: the promised time becomes required.
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (!el || el.name !== "resolved" || !el.form || !el.form.hasAttribute("data-wrapup")) { return; }
    var promised = el.form.querySelector("[name=promised_at]");
    if (promised) { promised.required = el.value === "no"; }
  });
})();
