// Case work: a canned reply fills the reply box; "select all" on the case list; confirmations.
document.addEventListener("change", function (event) {
  var el = event.target;
  if (!el || !el.matches) return;
  if (el.matches("#canned-reply")) {
    var option = el.options[el.selectedIndex];
    var text = option ? option.getAttribute("data-text") : null;
    var body = document.getElementById("reply-body");
    if (text && body) {
      body.value = text;
      body.dispatchEvent(new Event("input"));
      body.focus();
    }
  } else if (el.matches("#select-all")) {
    document.querySelectorAll('#inbox input[name="ids"]').forEach(function (box) {
      box.checked = el.checked;
    });
  }
});
document.addEventListener("click", function (event) {
  var button = event.target && event.target.closest && event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});
