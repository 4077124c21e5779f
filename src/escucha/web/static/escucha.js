// Small behaviours without inline scripts (the Content Security Policy forbids them).
document.addEventListener("change", function (event) {
  var el = event.target;
  if (el && el.matches && el.matches("[data-autosubmit]") && el.form) {
    el.form.submit();
  }
});

// The main menu folds behind a button on narrow screens (see escucha.css); without scripts it
// simply stays open.
document.documentElement.classList.add("js");
document.addEventListener("click", function (event) {
  var button = event.target && event.target.closest && event.target.closest(".menu-toggle");
  if (!button) return;
  var open = button.getAttribute("aria-expanded") !== "true";
  button.setAttribute("aria-expanded", open ? "true" : "false");
  button.closest("header").classList.toggle("menu-open", open);
});
