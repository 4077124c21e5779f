// "Call us" on another site: <script src="https://ESCUCHA/static/phone-widget.js"
// data-label="Llámenos" defer></script> puts a button where the script is; it opens the web
// call of the escucha that served this file in a small window of its own (the microphone and
// the call's cookie then belong to escucha, whatever the site; no third-party cookie needed).
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var base = new URL(script.src).origin;
  var button = document.createElement("button");
  button.type = "button";
  button.className = "escucha-call";
  button.textContent = script.getAttribute("data-label") || "Llámenos";
  button.addEventListener("click", function () {
    var win = window.open(base + "/phone", "escucha-phone", "popup,width=440,height=760");
    if (win) { win.focus(); } else { window.location.href = base + "/phone"; }
  });
  script.parentNode.insertBefore(button, script.nextSibling);
})();
