// « Abonnement » : Stripe.js Elements collects the card (localstripe's
// Stripe.js in development). The server creates a SetupIntent for the
// account, Stripe confirms the card, then the form is posted with the
// SetupIntent's id and the server starts the subscription.
(function () {
  "use strict";
  var form = document.getElementById("subscribe-form");
  if (!form) return;
  var errorBox = document.getElementById("card-errors");
  var button = form.querySelector("button[type=submit]");
  var label = button.textContent;

  function fail(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    button.disabled = false;
    button.textContent = label;
  }

  if (typeof Stripe === "undefined") {
    fail(form.dataset.msgUnavailable);
    button.disabled = true;
    return;
  }
  var stripe = Stripe(form.dataset.stripeKey, { locale: "fr" });
  var card = stripe.elements().create("card", { hidePostalCode: true });
  card.mount("#card-element");

  // An error whose message is meant for the person (French, from the server).
  function Shown(message) { this.message = message; }

  function messageFor(error) {
    if (error && error.code === "card_declined") return form.dataset.msgDeclined;
    // Stripe's own messages are in French (locale above) for what the person typed.
    if (error && (error.type === "validation_error" || error.type === "card_error") && error.message) {
      return error.message;
    }
    return form.dataset.msgInvalid;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (button.disabled) return;
    errorBox.hidden = true;
    button.disabled = true;
    button.textContent = form.dataset.msgWorking;
    fetch(form.dataset.setupUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": form.elements.csrf_token.value, Accept: "application/json" },
    })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (!response.ok || !body.client_secret) throw new Shown(body.error || form.dataset.msgUnavailable);
          return body.client_secret;
        });
      })
      .then(function (clientSecret) {
        return stripe.confirmCardSetup(clientSecret, { payment_method: { card: card } }).then(function (result) {
          if (result.error || !result.setupIntent) return fail(messageFor(result.error));
          form.elements.setup_intent.value = result.setupIntent.id;
          form.submit();
        });
      })
      .catch(function (error) {
        fail(error instanceof Shown ? error.message : form.dataset.msgUnavailable);
      });
  });
})();
