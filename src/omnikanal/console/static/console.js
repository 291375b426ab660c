// A form's buttons are disabled while it is sent, so a second click does nothing (the
// form's one-time token makes a second post harmless anyway); the clicked one says
// "Sending…". Disabled on the next tick: a button disabled at once would not be sent with
// the form.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") return;
  if (form.dataset.sending === "yes") { event.preventDefault(); return; }
  form.dataset.sending = "yes";
  form.setAttribute("aria-busy", "true");
  window.setTimeout(function () {
    form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (b) {
      b.disabled = true;
      if (b === event.submitter) {
        b.dataset.label = b.textContent;
        b.textContent = "Sending…";
      }
    });
  }, 0);
});
// Back from the browser's cache: the form may be sent again, its buttons with their words.
window.addEventListener("pageshow", function () {
  document.querySelectorAll("form[data-sending]").forEach(function (form) {
    delete form.dataset.sending;
    form.removeAttribute("aria-busy");
    form.querySelectorAll("button").forEach(function (b) {
      b.disabled = false;
      if (b.dataset.label) { b.textContent = b.dataset.label; delete b.dataset.label; }
    });
  });
});
