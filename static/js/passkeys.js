// Passkeys (WebAuthn): « Ajouter une clé d'accès » and « Utiliser ma clé d'accès ».
// The server's options sit in the form's data-options (JSON, binary fields in base64url); the browser's
// answer is put, as JSON, in a hidden field of the same form, which is then submitted as usual.
(function () {
  "use strict";

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var raw = atob(base64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function say(form, message) {
    var status = form.querySelector("[data-passkey-status]");
    if (status) { status.textContent = message; }
  }

  function unsupported(form) {
    if (window.PublicKeyCredential && navigator.credentials) { return false; }
    say(form, "Ce navigateur ne sait pas utiliser les clés d'accès : utilisez votre application d'authentification.");
    return true;
  }

  function failed(form, error) {
    if (error && error.name === "NotAllowedError") {
      say(form, "Opération annulée ou délai dépassé : cliquez de nouveau pour réessayer.");
    } else if (error && error.name === "InvalidStateError") {
      say(form, "Cette clé d'accès est déjà enregistrée pour votre compte.");
    } else {
      say(form, "La clé d'accès n'a pas pu être utilisée : réessayez, ou utilisez votre application d'authentification.");
    }
  }

  // A credential as the server's webauthn library reads it: the fields every ceremony has, and its response's.
  function asJSON(credential, response) {
    return JSON.stringify({
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: response
    });
  }

  function register(button) {
    var form = button.form;
    if (unsupported(form)) { return; }
    var options = JSON.parse(form.getAttribute("data-options"));
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    (options.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    button.disabled = true;
    say(form, "Suivez les instructions de votre navigateur…");
    navigator.credentials.create({ publicKey: options }).then(function (credential) {
      var response = credential.response;
      form.elements.credential.value = asJSON(credential, {
        clientDataJSON: toText(response.clientDataJSON),
        attestationObject: toText(response.attestationObject),
        transports: response.getTransports ? response.getTransports() : []
      });
      say(form, "Enregistrement…");
      form.submit();
    }, function (error) { button.disabled = false; failed(form, error); });
  }

  function use(button) {
    var form = button.form;
    if (unsupported(form)) { return; }
    var options = JSON.parse(form.getAttribute("data-options"));
    options.challenge = toBytes(options.challenge);
    (options.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    button.disabled = true;
    say(form, "Suivez les instructions de votre navigateur…");
    navigator.credentials.get({ publicKey: options }).then(function (credential) {
      var response = credential.response;
      form.elements.sca_assertion.value = asJSON(credential, {
        clientDataJSON: toText(response.clientDataJSON),
        authenticatorData: toText(response.authenticatorData),
        signature: toText(response.signature),
        userHandle: response.userHandle ? toText(response.userHandle) : undefined
      });
      say(form, "Vérification…");
      form.submit();
    }, function (error) { button.disabled = false; failed(form, error); });
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-passkey-register]");
    if (add) { register(add); return; }
    var sign = event.target.closest("[data-passkey-use]");
    if (sign) { use(sign); }
  });
})();
