// A form being sent says so and cannot be sent again from this page: its buttons are
// disabled until the answer arrives (the server acts once anyway: one-time tokens).
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!(form instanceof HTMLFormElement) || form.dataset.sending) {
    if (form.dataset && form.dataset.sending) event.preventDefault();
    return;
  }
  form.dataset.sending = "yes";
  form.setAttribute("aria-busy", "true");
  // After this tick, so the clicked button's own name and value are still sent.
  setTimeout(function () {
    form.querySelectorAll("button").forEach(function (button) {
      button.disabled = true;
      if (button === event.submitter) {
        button.dataset.label = button.textContent;
        button.textContent = "Sending…";
      }
    });
  }, 0);
});
// Back to a page kept by the browser: its forms can be used again.
window.addEventListener("pageshow", function () {
  document.querySelectorAll("form[data-sending]").forEach(function (form) {
    delete form.dataset.sending;
    form.removeAttribute("aria-busy");
    form.querySelectorAll("button").forEach(function (button) {
      button.disabled = false;
      if (button.dataset.label) button.textContent = button.dataset.label;
    });
  });
});
