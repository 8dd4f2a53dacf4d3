// « Payer la sélection »: the bar says how many invoices are ticked and their total; « Tout sélectionner » ticks the page.
(function () {
  "use strict";
  var bar = document.querySelector("[data-selection-bar]");
  if (!bar) return;
  var form = bar.id;
  var boxes = Array.prototype.slice.call(document.querySelectorAll('input[type="checkbox"][form="' + form + '"]'));
  var all = bar.querySelector("[data-select-all]");
  var text = bar.querySelector("[data-selection-text]");
  var submit = bar.querySelector("[data-selection-submit]");
  var euros = new Intl.NumberFormat("fr-FR", { style: "currency", currency: "EUR" });
  function update() {
    var ticked = boxes.filter(function (box) { return box.checked; });
    var cents = ticked.reduce(function (sum, box) { return sum + Number(box.dataset.cents); }, 0);
    var n = ticked.length;
    text.textContent = n === 0 ? "Cochez les factures à payer ensemble."
      : n + (n > 1 ? " factures sélectionnées" : " facture sélectionnée") + " — " + euros.format(cents / 100);
    submit.disabled = n === 0;
    if (all) {
      all.checked = n > 0 && n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
    }
  }
  if (all) {
    all.disabled = boxes.length === 0;
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
      update();
    });
  }
  boxes.forEach(function (box) { box.addEventListener("change", update); });
  update();
})();
