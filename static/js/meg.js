// « Payer » and other one-shot buttons: disabled after the first click, so a
// double click sends one request (the server is idempotent anyway).
document.addEventListener("submit", function (event) {
  var button = event.target.querySelector("button[data-once]");
  if (!button) return;
  if (button.dataset.sent) { event.preventDefault(); return; }
  button.dataset.sent = "1";
  setTimeout(function () { button.disabled = true; button.textContent = "Paiement en cours…"; }, 0);
});
