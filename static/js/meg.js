// « Payer » and other one-shot buttons: disabled after the first click, so a
// double click sends one request (the server is idempotent anyway).
document.addEventListener("submit", function (event) {
  var button = event.target.querySelector("button[data-once]");
  if (!button) return;
  if (button.dataset.sent) { event.preventDefault(); return; }
  button.dataset.sent = "1";
  setTimeout(function () { button.disabled = true; button.textContent = "Paiement en cours…"; }, 0);
});

// « Importer une facture électronique »: the new supplier's fields show only when « Nouveau fournisseur » is chosen.
document.addEventListener("change", function (event) {
  if (event.target.id !== "supplier_id") return;
  var fields = document.querySelector("[data-new-supplier]");
  if (fields) fields.hidden = event.target.value !== "nouveau";
});
