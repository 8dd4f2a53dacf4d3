// « Payer la sélection »: the bar says how many invoices are ticked and their total; « Tout sélectionner » ticks the page;
// « Sélectionner les N factures du filtre » (« Factures », once filtered) takes every page's payable invoices of the filter.
(function () {
  "use strict";
  var bar = document.querySelector("[data-selection-bar]");
  if (!bar) return;
  var form = bar.id;
  var boxes = Array.prototype.slice.call(document.querySelectorAll('input[type="checkbox"][form="' + form + '"]'));
  var all = bar.querySelector("[data-select-all]");
  var whole = bar.querySelector("[data-select-filter]");
  var text = bar.querySelector("[data-selection-text]");
  var submit = bar.querySelector("[data-selection-submit]");
  var euros = new Intl.NumberFormat("fr-FR", { style: "currency", currency: "EUR" });
  var filterIds = null;  // the filter's ids (and their total) while « Sélectionner les N factures du filtre » holds
  var filterCents = 0;
  function said(n, cents) {
    return n + (n > 1 ? " factures sélectionnées" : " facture sélectionnée") + " — " + euros.format(cents / 100);
  }
  function dropFilter() {
    filterIds = null;
    Array.prototype.forEach.call(bar.querySelectorAll("input[data-from-filter]"), function (input) { input.remove(); });
  }
  function update() {
    var ticked = boxes.filter(function (box) { return box.checked; });
    var cents = ticked.reduce(function (sum, box) { return sum + Number(box.dataset.cents); }, 0);
    var n = ticked.length;
    if (filterIds) {
      n = filterIds.length;
      cents = filterCents;
    }
    text.textContent = n === 0 ? "Cochez les factures à payer ensemble." : said(n, cents);
    submit.disabled = n === 0;
    if (all) {
      all.checked = ticked.length > 0 && ticked.length === boxes.length;
      all.indeterminate = ticked.length > 0 && ticked.length < boxes.length;
    }
  }
  if (all) {
    all.disabled = boxes.length === 0;
    all.addEventListener("change", function () {
      dropFilter();
      boxes.forEach(function (box) { box.checked = all.checked; });
      update();
    });
  }
  function selectFilter(ids, cents) {
    dropFilter();
    filterIds = ids.map(String);
    filterCents = cents;
    var onPage = {};
    boxes.forEach(function (box) { box.checked = filterIds.indexOf(box.value) >= 0; onPage[box.value] = true; });
    filterIds.forEach(function (id) {
      if (onPage[id]) return;
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "facture";
      input.value = id;
      input.setAttribute("data-from-filter", "");
      bar.appendChild(input);
    });
    update();
  }
  if (whole) {
    // The filter's invoices are read when asked (JSON, the list's filter in the URL); if they cannot be,
    // the button does what it does without script: it opens their confirmation.
    whole.addEventListener("click", function (event) {
      event.preventDefault();
      whole.disabled = true;
      fetch(whole.dataset.url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (response) { if (!response.ok) throw new Error(response.status); return response.json(); })
        .then(function (found) { whole.disabled = false; selectFilter(found.ids, found.cents); })
        .catch(function () { whole.disabled = false; document.getElementById(whole.getAttribute("form")).submit(); });
    });
  }
  boxes.forEach(function (box) { box.addEventListener("change", function () { dropFilter(); update(); }); });
  update();
})();
