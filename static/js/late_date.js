// « Date d'exécution »: the warning « … : le fournisseur sera payé en retard » follows the date typed.
(function () {
  "use strict";
  document.querySelectorAll("[data-late-warning]").forEach(function (warning) {
    var input = document.getElementById(warning.dataset.for);
    if (!input) return;
    function update() {
      // ISO dates (AAAA-MM-JJ) compare as text.
      warning.hidden = !(input.value && input.value > warning.dataset.dueDate);
    }
    input.addEventListener("input", update);
    input.addEventListener("change", update);
    update();
  });
})();
