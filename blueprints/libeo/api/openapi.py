"""The OpenAPI 3.1 document of the API, and the body schemas the views check against."""

from __future__ import annotations

from typing import Any

from core.files import MAX_DOCUMENT_BYTES
from core.ids import MAX_ID
from core.money import MAX_AMOUNT_CENTS
from models.libeo.payments.by_api import EXTERNAL_ID_PATTERN

# Text a person reads: no control character or bidirectional override, not blank.
_VISIBLE = r"[^\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]"
_NOT_BLANK = r"[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028-\u202f\u205f\u2066-\u2069\u3000\ufeff]"
TEXT_PATTERN = f"^{_VISIBLE}*{_NOT_BLANK}{_VISIBLE}*$"
IDEMPOTENCY_KEY_PATTERN = r"^[\u0021-\u007e]{1,255}$"


def _text(max_length: int, description: str) -> dict:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": max_length,
        "pattern": TEXT_PATTERN,
        "description": description,
    }


SUPPLIER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "iban"],
    "properties": {
        "name": _text(200, "Nom du fournisseur (bénéficiaire du virement). Il est transmis à la banque en lettres "
                           "latines sans accents (les autres écritures transcrites, les symboles et emoji omis, "
                           "70 caractères au plus) et doit y garder au moins une lettre."),
        "iban": {
            "type": "string",
            "minLength": 15,
            "maxLength": 34,
            "pattern": "^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$",
            "x-error": "Cet IBAN n'est pas valide : lettres majuscules et chiffres, sans espace (par exemple "
            "FR7630006000011234567890189).",
            "description": "IBAN du fournisseur, compact, en majuscules ; sa clé est vérifiée, et son pays doit être "
                           "de la zone SEPA.",
        },
        "bic": {
            "type": ["string", "null"],
            "minLength": 8,
            "maxLength": 11,
            "pattern": "^[A-Z0-9]{8}([A-Z0-9]{3})?$",
            "x-error": "Ce BIC n'est pas valide (8 ou 11 lettres majuscules ou chiffres).",
            "description": "BIC de la banque du fournisseur (facultatif).",
        },
    },
}


def _cents(description: str, minimum: int = -MAX_AMOUNT_CENTS) -> dict:
    return {"type": ["integer", "null"], "minimum": minimum, "maximum": MAX_AMOUNT_CENTS, "description": description}


TOTALS = {
    "type": ["object", "null"],
    "additionalProperties": False,
    "required": ["total_cents"],
    "description": (
        "Facultatif : les totaux de la facture tels que la norme EN 16931 les définit (ceux d'une facture "
        "électronique), en centimes, montrés sur la page de la facture. « amount_cents » doit alors valoir "
        "total_cents − prepaid_cents + rounding_cents (règle BR-CO-16), sinon la requête est refusée (422, "
        "« validation_error », champ « amount_cents »)."
    ),
    "properties": {
        "net_cents": _cents("Total HT (BT-109)."),
        "vat_cents": _cents("Montant de la TVA (BT-110)."),
        "total_cents": {"type": "integer", "minimum": 1, "maximum": MAX_AMOUNT_CENTS,
                        "description": "Montant TTC (BT-112)."},
        "prepaid_cents": _cents("Montant déjà payé, un acompte par exemple (BT-113)."),
        "rounding_cents": _cents("Arrondi (BT-114)."),
    },
}

INVOICE_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["number", "supplier", "amount_cents", "currency", "issue_date", "due_date"],
    "properties": {
        "number": _text(60, "Numéro de la facture du fournisseur."),
        "supplier": SUPPLIER,
        "amount_cents": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_AMOUNT_CENTS,
            "description": "Montant à payer en centimes (1234,56 € = 123456) : le montant TTC, moins ce qui a "
                           "déjà été payé quand « totals » le dit (BT-115, « Net à payer »). C'est le montant "
                           "du virement.",
        },
        "totals": TOTALS,
        "currency": {"type": "string", "enum": ["EUR"]},
        "issue_date": {"type": "string", "format": "date", "description": "Date de la facture (2000 à 2099)."},
        "due_date": {"type": "string", "format": "date", "description": "Échéance, au plus tôt la date de facture."},
    },
}

INITIATOR_HEADER = "MEG-Initiator"

INITIATOR_DESCRIPTION = (
    "Jeton JWT signé par MEG (sa clé OpenID Connect, vérifiée avec son JWKS), valable cinq minutes, pour ce "
    "compte (company_siret) : qui demande (email, sub) et son rôle (role : « user » pour les personnes de "
    "l'entreprise, « accountant » pour son expert-comptable), tels que MEG les connaît. Libeo prend la personne "
    "et le rôle de ce jeton, jamais du corps de la requête : les règles d'approbation et « Initié par » les "
    "suivent. Absent : 400 (initiator_required) ; non signé par MEG, expiré ou pour une autre entreprise : 403 "
    "(initiator_refused) ; contredit par le corps (initiated_by ou cancelled_by) : 403 (initiator_mismatch)."
)

_INITIATOR_CLAIM = {
    "type": "object",
    "additionalProperties": False,
    "required": ["email", "role"],
    "description": "Facultatif : s'il est donné, il doit dire la même personne et le même rôle que l'en-tête "
    "MEG-Initiator signé par MEG (403 initiator_mismatch sinon). Il ne décide jamais du rôle.",
    "properties": {
        "email": {"type": "string", "format": "email", "minLength": 3, "maxLength": 254},
        "role": {
            "type": "string",
            "enum": ["user", "accountant"],
            "description": "« accountant » : seulement l'expert-comptable déclaré par l'entreprise.",
        },
    },
}

PAYMENT_BODY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "initiated_by": _INITIATOR_CLAIM,
        "execution_date": {
            "type": ["string", "null"],
            "format": "date",
            "description": (
                "Date d'exécution du virement : un jour ouvré TARGET2, d'aujourd'hui (ou du prochain jour "
                "ouvré) à un an. Par défaut, l'échéance de la facture, ou le dernier jour ouvré qui la précède "
                "quand elle n'en est pas un (le fournisseur est payé à temps) ; quand elle est passée, le premier "
                "jour ouvré possible."
            ),
        },
        "invoice": {
            **INVOICE_BODY,
            "description": (
                "La facture (même schéma que PUT /invoices/{external_id}), créée ou mise à jour dans la même "
                "transaction que le paiement : si le paiement est refusé, rien n'est créé ni modifié."
            ),
        },
    },
}

VOUCH_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["assertion"],
    "properties": {
        "assertion": {
            "type": "string", "minLength": 20, "maxLength": 8000,
            "description": "Jeton JWT signé par MEG (sa clé OpenID Connect, vérifiée avec son JWKS), valable cinq "
            "minutes : un administrateur « Achats » de l'entreprise de ce SIRET, que MEG a confirmé, a enregistré "
            "la clé dans « Options ».",
        },
    },
}

CANCEL_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "cancelled_by": {
            **_INITIATOR_CLAIM,
            "description": "Qui annule, facultatif : s'il est donné, la même personne et le même rôle que l'en-tête "
            "MEG-Initiator (403 initiator_mismatch sinon).",
        },
    },
}

# A selection of invoices paid in one round trip (« Payer la sélection »).
MAX_BATCH_ITEMS = 200

BATCH_ITEM = {
    "type": "object",
    "additionalProperties": False,
    "required": ["external_id", "idempotency_key", "payment"],
    "properties": {
        "external_id": {"type": "string", "pattern": EXTERNAL_ID_PATTERN,
                        "x-error": "L'identifiant de facture doit comporter 1 à 64 lettres, chiffres, « . _ : - »."},
        "idempotency_key": {
            "type": "string", "minLength": 1, "maxLength": 255, "pattern": IDEMPOTENCY_KEY_PATTERN,
            "x-error": "La clé d'idempotence doit comporter 1 à 255 caractères ASCII visibles.",
            "description": "La clé de ce paiement seul, comme l'en-tête Idempotency-Key de POST "
                           "/invoices/{external_id}/payments (l'un peut rejouer l'autre).",
        },
        "payment": {**PAYMENT_BODY, "description": "Le corps qu'aurait POST /invoices/{external_id}/payments."},
        "initiator": {
            "type": "string", "minLength": 20, "maxLength": 8000,
            "description": "L'en-tête MEG-Initiator de ce paiement (sinon, celui de la requête du lot). "
            + INITIATOR_DESCRIPTION,
        },
    },
}

BATCH_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["items"],
    "properties": {
        # Each item is checked alone against BATCH_ITEM: one that fails is refused in its own result (its
        # « status » 422, its « error »), the others are paid; the document says so rather than claim the
        # whole batch is refused.
        "items": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH_ITEMS, "items": {
            "type": "object",
            "description": "Un paiement : external_id, idempotency_key et payment (le corps de POST "
                           "/invoices/{external_id}/payments). Un élément invalide est refusé seul, dans son "
                           "résultat (status 422), sans empêcher les autres.",
        }},
    },
}

ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "field"],
            "properties": {
                "code": {"type": "string", "description": "Code stable, pour les programmes."},
                "message": {"type": "string", "description": "Explication en français, pour les personnes."},
                "field": {"type": ["string", "null"], "description": "Le champ ou l'en-tête en cause."},
                "upgrade_url": {
                    "type": "string",
                    "format": "uri",
                    "description": "Avec quota_exceeded : la page où passer à la formule Partnerships.",
                },
                "payment_id": {
                    "type": ["integer", "null"],
                    "description": "Avec payment_exists : le paiement qui règle déjà la facture.",
                },
            },
        }
    },
}

ACCOUNT = {
    "type": "object",
    "required": ["name", "siret", "plan", "plan_label", "payments_this_month", "payment_limit", "accountant_email",
                 "verified"],
    "properties": {
        "id": {"type": "integer", "minimum": 1, "description": "L'identifiant du compte : une clé d'un autre compte "
               "a un autre flux d'événements."},
        "name": {"type": "string"},
        "siret": {"type": ["string", "null"], "pattern": "^[0-9]{14}$",
                  "description": "null : le SIRET a été repris par le compte vérifié de l'entreprise (« SIRET à "
                  "confirmer »)."},
        "plan": {"type": "string", "enum": ["gratuit", "partnerships"]},
        "plan_label": {"type": "string", "enum": ["Gratuit", "Partnerships"]},
        "payments_this_month": {"type": "integer", "minimum": 0},
        "payment_limit": {"type": ["integer", "null"], "minimum": 1, "description": "null : illimité."},
        "accountant_email": {"type": ["string", "null"]},
        "verified": {
            "type": "boolean",
            "description": "Compte « vérifié » : MEG a confirmé qu'un administrateur « Achats » de l'entreprise du "
            "SIRET l'a relié, ou le support l'a vérifié. Les virements d'un compte non vérifié ne sont pas exécutés.",
        },
        "waiting_for": {
            "type": ["string", "null"], "maxLength": 300,
            "description": "Ce qui empêche Libeo d'exécuter les virements du compte (compte non vérifié, pas d'IBAN "
            "à débiter), avec l'action qui le lève ; null quand rien ne l'empêche.",
        },
        "approval_above_cents": {
            "type": ["integer", "null"], "minimum": 0,
            "description": "Au-delà de ce montant (strictement), un paiement attend l'approbation d'un administrateur "
            "du compte ; null : pas de telle règle.",
        },
        "accountant_payments_approved": {
            "type": "boolean",
            "description": "Les paiements demandés par l'expert-comptable attendent l'approbation d'un administrateur.",
        },
    },
}

INVOICE = {
    "type": "object",
    "required": [
        "external_id", "number", "supplier", "amount_cents", "currency", "issue_date", "due_date", "status",
    ],
    "properties": {
        "external_id": {"type": "string"},
        "number": {"type": "string"},
        "supplier": {
            "type": "object",
            "required": ["name", "iban", "bic"],
            "properties": {
                "name": {"type": "string"},
                "iban": {"type": "string"},
                "bic": {"type": ["string", "null"]},
            },
        },
        "amount_cents": {"type": "integer", "minimum": 1, "description": "Montant à payer (BT-115)."},
        "totals": {
            "type": ["object", "null"],
            "description": "Les totaux EN 16931 reçus avec la facture ; null quand elle n'a que son montant.",
            "required": ["net_cents", "vat_cents", "total_cents", "prepaid_cents", "rounding_cents"],
            "properties": {name: {"type": ["integer", "null"]} for name in
                           ("net_cents", "vat_cents", "total_cents", "prepaid_cents", "rounding_cents")},
        },
        "currency": {"type": "string"},
        "issue_date": {"type": "string", "format": "date"},
        "due_date": {"type": "string", "format": "date"},
        "status": {"type": "string",
                   "enum": ["to_pay", "awaiting_approval", "payment_scheduled", "paid", "payment_failed"]},
    },
}

DOCUMENT = {
    "type": "object",
    "required": ["external_id", "content_type", "size", "sha256", "received_at"],
    "properties": {
        "external_id": {"type": "string"},
        "content_type": {"type": "string", "enum": ["application/pdf"]},
        "size": {"type": "integer", "minimum": 1, "maximum": MAX_DOCUMENT_BYTES, "description": "Taille en octets."},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "Empreinte SHA-256 du PDF reçu."},
        "received_at": {"type": "string", "format": "date-time"},
    },
}

_DATETIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}

PAYMENT = {
    "type": "object",
    "required": [
        "id", "version", "status", "status_label", "hold_reasons", "hold_details", "amount_cents", "currency",
        "execution_date",
        "transmitted_at", "accepted_at", "bank_status", "paid_on", "paid_at", "failure_reason", "failure_code",
        "bank_text",
        "new_iban_required", "bank_anomaly", "cancelled_at", "cancel_reason", "decided_by", "decided_at",
        "invoice_external_id", "initiated_by", "channel", "created_at", "payee",
    ],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "version": {
            "type": "integer", "minimum": 1,
            "description": "1 à la création du paiement, un de plus à chaque changement d'état. Une réponse "
            "rejouée (même Idempotency-Key) redonne la version de la première réponse : un client garde le "
            "récit de plus haute version, quel que soit l'ordre où il reçoit réponses et événements.",
        },
        "status": {
            "type": "string",
            "enum": ["awaiting_approval", "scheduled", "file_ready", "transmitted", "accepted", "paid", "failed",
                     "cancelled"],
            "description": (
                "awaiting_approval : retenu par un contrôle de Libeo (hold_reasons) jusqu'à ce qu'un administrateur "
                "du compte l'approuve (scheduled) ou le refuse (cancelled, avec cancel_reason) ; "
                "scheduled : programmé pour execution_date ; file_ready : dans un fichier SEPA (pain.001) que "
                "l'entreprise doit transmettre à sa banque ; transmitted : l'entreprise a transmis le fichier "
                "(transmitted_at) ; accepted : la banque l'a accepté sans l'avoir encore débité (bank_status : RCVD, "
                "ACTC, ACCP, ACSP, ACWC, PDNG ; accepted_at) ; paid : débité (statut ACSC/ACCC, écriture d'un relevé "
                "camt.053/054 ou « Marquer comme débité »), le paid_on de la banque ; failed : rejeté ou retourné "
                "par la banque (failure_reason, failure_code), ou impossible à mettre au format SEPA ; cancelled : "
                "annulé avant exécution. paid et failed sont définitifs. D'autres valeurs pourront s'ajouter : un "
                "client affiche alors status_label."
            ),
        },
        "status_label": {
            "type": "string",
            "description": "Le statut tel que Libeo l'affiche : « À approuver », « Programmé le 04/01/2027 », "
            "« Fichier prêt "
            "— à transmettre à votre banque », « Transmis à la banque le 04/01/2027 », « Accepté par la banque le "
            "05/01/2027 (ACSP) », « Débité le 05/01/2027 », « Rejeté : compte du bénéficiaire clôturé (AC04) », "
            "« Annulé ».",
        },
        "hold_reasons": {
            "type": "array",
            "items": {"type": "string",
                      "enum": ["new_iban", "duplicate_suspected", "payee_name_mismatch", "approval_rule",
                               "mixed_scripts"]},
            "description": "Avec awaiting_approval : pourquoi le paiement est retenu (vide sinon). new_iban : le "
            "fournisseur a déjà été payé sur un autre IBAN ; duplicate_suspected : une autre facture du fournisseur, "
            "payée ou en cours, a le même numéro, ou le même montant à 7 jours près de sa date ; "
            "payee_name_mismatch : cet IBAN a déjà été payé sous un nom nettement différent ; approval_rule : "
            "une règle du compte (montant au-delà d'un seuil, paiement de l'expert-comptable) ; mixed_scripts : un "
            "mot du nom du fournisseur mêle des écritures (lettres latines et cyrilliques, par exemple).",
        },
        "hold_details": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Avec awaiting_approval : une phrase en français par contrôle, qui nomme l'autre facture "
            "ou l'IBAN précédent (masqué) ; vide sinon.",
        },
        "amount_cents": {"type": "integer", "minimum": 1},
        "currency": {"type": "string"},
        "execution_date": {"type": "string", "format": "date"},
        "transmitted_at": {**_DATETIME_OR_NULL, "description": "Quand le fichier a été transmis à la banque (UTC)."},
        "accepted_at": {**_DATETIME_OR_NULL, "description": "Quand la banque a donné son dernier statut "
                        "intermédiaire (UTC)."},
        "bank_status": {"type": ["string", "null"], "description": "Le dernier statut ISO 20022 de la banque "
                        "(ACSP, ACSC, RJCT…), BOOK pour une écriture de relevé."},
        "paid_on": {"type": ["string", "null"], "format": "date", "description": "Avec paid : le jour du débit "
                    "selon la banque (date de comptabilisation, sinon d'acceptation), jamais avant execution_date."},
        "paid_at": {**_DATETIME_OR_NULL, "description": "Avec paid : le moment donné par la banque (UTC), ou le "
                    "début du jour paid_on à Paris."},
        "failure_reason": {
            "type": ["string", "null"],
            "description": "Avec failed : le motif en français, code de la banque entre parenthèses.",
        },
        "bank_text": {"type": ["string", "null"], "description": "Avec failed : le texte de la banque (AddtlInf), "
                      "tel qu'elle l'a écrit."},
        "failure_code": {"type": ["string", "null"], "description": "Avec failed : le code motif de la banque "
                         "(ISO 20022, ex. AC04, ou le sien)."},
        "new_iban_required": {"type": "boolean", "description": "Rejeté pour un motif du compte du bénéficiaire "
                              "(clôturé, bloqué, invalide…) : payer à nouveau demande le nouvel IBAN du fournisseur."},
        "bank_anomaly": {"type": ["string", "null"], "maxLength": 1000,
                         "description": "Ce qu'un fichier de la banque a dit de ce paiement sans que Libeo l'applique "
                         "(un rejet d'un virement débité, un débit d'un autre montant…), en français, tant qu'une "
                         "personne du compte n'a pas décidé ; null sinon. status garde l'état d'avant."},
        "cancelled_at": _DATETIME_OR_NULL,
        "cancel_reason": {"type": ["string", "null"],
                          "description": "Le motif d'un paiement refusé par un administrateur (null sinon)."},
        "decided_by": {"type": ["string", "null"],
                       "description": "L'administrateur qui a approuvé ou refusé le paiement retenu (null avant)."},
        "decided_at": {**_DATETIME_OR_NULL, "description": "Quand il l'a approuvé ou refusé (null avant)."},
        "invoice_external_id": {"type": ["string", "null"], "description": "null : facture saisie dans Libeo."},
        "initiated_by": {
            "type": "object",
            "required": ["email", "role"],
            "properties": {"email": {"type": "string"}, "role": {"type": "string", "enum": ["user", "accountant"]}},
        },
        "channel": {"type": "string", "enum": ["MEG", "Libeo"]},
        "created_at": {"type": "string", "format": "date-time"},
        "payee": {
            "type": "object",
            "required": ["name", "iban", "bic"],
            "description": "Le bénéficiaire tel que Libeo le paiera : le nom et l'IBAN de la facture au moment du "
            "paiement (un IBAN changé depuis ne s'applique qu'à un nouveau paiement).",
            "properties": {
                "name": {"type": "string"},
                "iban": {"type": "string"},
                "bic": {"type": ["string", "null"]},
            },
        },
    },
}

EVENT = {
    "type": "object",
    "required": ["id", "seq", "type", "created_at", "data"],
    "properties": {
        "id": {"type": "integer", "minimum": 1, "description": "Identifiant unique de l'événement."},
        "seq": {"type": "integer", "minimum": 1, "description": "Rang de l'événement dans le flux du compte."},
        "type": {"type": "string", "enum": ["payment.updated"]},
        "created_at": {"type": "string", "format": "date-time"},
        "data": {"$ref": "#/components/schemas/Payment"},
    },
}

EVENT_PAGE = {
    "type": "object",
    "required": ["events", "next"],
    "properties": {
        "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
        "next": {
            "type": "string",
            "pattern": "^[0-9]+$",
            "description": "Le curseur à passer en « after » pour lire la suite (inchangé s'il n'y a rien de nouveau).",
        },
        "account": {
            "allOf": [{"$ref": "#/components/schemas/Account"}],
            "description": "Le compte tel qu'il est maintenant (expert-comptable, formule, paiements du mois), "
                           "comme GET /me.",
        },
    },
}


VOID_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["idempotency_key"],
    "properties": {
        "idempotency_key": {
            "type": "string", "minLength": 1, "maxLength": 255, "pattern": IDEMPOTENCY_KEY_PATTERN,
            "x-error": "La clé d'idempotence doit comporter 1 à 255 caractères ASCII visibles.",
            "description": "La clé d'une demande de paiement dont l'appelant n'a pas entendu la réponse.",
        },
    },
}

VOID_OUTCOME = {
    "type": "object",
    "required": ["idempotency_key", "outcome"],
    "properties": {
        "idempotency_key": {"type": "string"},
        "outcome": {"type": "string", "enum": ["void", "answered"],
                    "description": "void : Libeo n'a jamais reçu de demande avec cette clé ; elle est close, aucune "
                    "demande avec elle ne sera exécutée (410 request_void). answered : la demande a reçu une "
                    "réponse, donnée dans status et payment ou error."},
        "status": {"type": "integer", "description": "Le statut de la réponse à la demande (answered)."},
        "payment": {"$ref": "#/components/schemas/Payment"},
        "error": ERROR["properties"]["error"],
    },
}

RETIRED_KEY = {
    "type": "object",
    "required": ["status", "payments_in_flight"],
    "properties": {
        "status": {"type": "string", "enum": ["retired"]},
        "payments_in_flight": {"type": "integer", "minimum": 0,
                               "description": "Les paiements de factures envoyées par MEG encore en cours."},
    },
}

BATCH_RESULT = {
    "type": "object",
    "required": ["items"],
    "properties": {
        "items": {
            "type": "array",
            "description": "Un résultat par paiement demandé, dans l'ordre des demandes.",
            "items": {
                "type": "object",
                "required": ["external_id", "idempotency_key", "status", "replayed"],
                "properties": {
                    "external_id": {"type": ["string", "null"]},
                    "idempotency_key": {"type": ["string", "null"]},
                    "status": {"type": "integer", "description": "Le statut qu'aurait eu la demande seule : 201, "
                               "ou celui de son erreur (402 quota, 409 déjà payée ou clé en cours, 422…)."},
                    "replayed": {"type": "boolean", "description": "true quand la réponse est rejouée."},
                    "payment": {"$ref": "#/components/schemas/Payment"},
                    "error": ERROR["properties"]["error"],
                },
            },
        }
    },
}


def _json(schema_name: str, description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}},
    }


def _errors(*statuses: int) -> dict:
    descriptions = {
        400: "JSON illisible, en-tête Idempotency-Key absent ou invalide, en-tête MEG-Initiator absent "
        "(initiator_required), curseur ou limite invalide.",
        401: "Clé d'API absente, mal formée, inconnue ou révoquée (toujours la même réponse).",
        402: "Quota mensuel de la formule Gratuit atteint (code quota_exceeded, avec upgrade_url).",
        403: "L'initiateur « accountant » n'est pas l'expert-comptable déclaré du compte (initiator_not_allowed), "
        "l'en-tête MEG-Initiator n'est pas signé par MEG, a expiré ou vaut pour une autre entreprise "
        "(initiator_refused), le corps contredit la personne ou le rôle qu'il signe (initiator_mismatch), ou la "
        "clé a été retirée par MEG (key_retired : elle ne sert plus qu'à lire les paiements et les événements).",
        404: "Ressource inconnue de ce compte.",
        409: "Conflit : facture déjà payée ou en paiement (payment_exists), facture verrouillée "
        "(invoice_locked), IBAN dont le dernier virement a été rejeté pour un motif du compte (iban_rejected : "
        "le nouvel IBAN du fournisseur est nécessaire), première requête de cette clé d'idempotence encore en "
        "cours, ou document demandé pour un paiement qui n'est pas dans un fichier de virements "
        "(receipt_unavailable), ou paiement qui ne peut plus être annulé (payment_not_cancellable).",
        413: "Corps de requête trop volumineux (1 Mo ; 10 Mo pour un document : document_too_large).",
        415: "Le document n'est pas envoyé en application/pdf.",
        422: "Donnée refusée (type, longueur, IBAN, montant, date, champ inconnu…) ; field nomme le champ. "
        "Ou clé d'idempotence déjà utilisée pour une autre requête.",
        429: "Trop de requêtes.",
        503: "MEG, qui doit confirmer sa signature, ne répond pas (meg_unreachable) : réessayez plus tard.",
    }
    return {str(status): _json("Error", descriptions[status]) for status in statuses}


_BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]

MIN_INITIATOR_LENGTH, MAX_INITIATOR_LENGTH = 20, 8000

_INITIATOR_PARAMETER = {
    "name": INITIATOR_HEADER,
    "in": "header",
    "required": True,
    "description": INITIATOR_DESCRIPTION,
    "schema": {"type": "string", "minLength": MIN_INITIATOR_LENGTH, "maxLength": MAX_INITIATOR_LENGTH},
}

_EXTERNAL_ID = {
    "name": "external_id",
    "in": "path",
    "required": True,
    "description": "L'identifiant de la facture dans MEG.",
    "schema": {"type": "string", "pattern": EXTERNAL_ID_PATTERN, "minLength": 1, "maxLength": 64},
}


_PAYMENT_ID = {
    "name": "payment_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}


def openapi_document(server_url: str) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "API Libeo",
            "version": "1.0.0",
            "description": (
                "Paiement des factures fournisseurs par virement SEPA. Authentification : "
                "« Authorization: Bearer <clé d'API> » (clé créée dans Libeo, « Configuration » → "
                "« Intégrations »). Erreurs : {\"error\": {\"code\", \"message\", \"field\"}}, message en français."
            ),
        },
        "servers": [{"url": server_url}],
        "security": _BEARER,
        "paths": {
            "/me": {
                "get": {
                    "operationId": "getMe",
                    "summary": "Le compte de la clé : entreprise, formule, usage du mois.",
                    "responses": {"200": _json("Account", "Le compte."), **_errors(401, 429)},
                }
            },
            "/account/meg-vouch": {
                "post": {
                    "operationId": "megVouch",
                    "summary": "MEG se porte garant du compte de la clé : il devient « vérifié par MEG ».",
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/VouchInput"}}}},
                    "responses": {"200": _json("Account", "Le compte, vérifié."),
                                  **_errors(400, 401, 403, 422, 429, 503)},
                }
            },
            "/key": {
                "delete": {
                    "operationId": "deleteKey",
                    "summary": "Abandonne la clé de cet appel (« Supprimer la connexion » dans MEG).",
                    "parameters": [{
                        "name": "after",
                        "in": "query",
                        "required": False,
                        "description": "Le curseur du flux d'événements où l'appelant en est.",
                        "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
                    }],
                    "description": (
                        "Sans paiement en cours d'une facture envoyée par MEG, et si l'appelant a lu le flux "
                        "d'événements jusqu'au bout (after : son curseur), la clé est révoquée aussitôt (204). "
                        "Sinon elle est retirée (200) : elle ne sert plus qu'à lire le compte, ses paiements et ses "
                        "événements (toute autre requête : 403 key_retired), et Libeo la révoque quand le dernier "
                        "paiement est terminé et que le flux d'événements a été lu jusqu'au bout."
                    ),
                    "responses": {
                        "200": _json("RetiredKey",
                                     "Clé retirée : elle suit les paiements en cours, puis sera révoquée."),
                        "204": {"description": "Clé révoquée."},
                        **_errors(400, 401, 429),
                    },
                }
            },
            "/payment-requests/void": {
                "post": {
                    "operationId": "voidPaymentRequest",
                    "summary": "Clôt une demande de paiement dont la réponse n'a pas été entendue (« Supprimer la "
                               "connexion » dans MEG).",
                    "description": (
                        "Permis aussi à une clé retirée. Si Libeo n'a jamais reçu de demande avec cette clé "
                        "d'idempotence, la clé est close : toute demande qui la porterait, avec n'importe quelle clé "
                        "d'API du compte, reçoit 410 request_void et ne crée rien. Si la demande a reçu une réponse, "
                        "cette réponse est donnée ; si elle est encore en cours, 409 idempotency_in_progress."
                    ),
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/VoidInput"}}}},
                    "responses": {"200": _json("VoidOutcome", "Ce qu'est devenue la demande."),
                                  **_errors(400, 401, 409, 422, 429)},
                }
            },
            "/invoices/{external_id}": {
                "put": {
                    "operationId": "putInvoice",
                    "summary": "Crée ou met à jour la facture que MEG connaît sous external_id.",
                    "parameters": [_EXTERNAL_ID],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InvoiceInput"}}},
                    },
                    "responses": {
                        "200": _json("Invoice", "Facture mise à jour."),
                        "201": _json("Invoice", "Facture créée."),
                        **_errors(400, 401, 403, 409, 413, 422, 429),
                    },
                }
            },
            "/invoices/{external_id}/payments": {
                "post": {
                    "operationId": "payInvoice",
                    "summary": "Paie la facture (virement SEPA programmé).",
                    "description": (
                        "La facture peut accompagner la demande (champ invoice, même schéma que PUT "
                        "/invoices/{external_id}) : elle est créée ou mise à jour dans la même transaction que le "
                        "paiement, et rien n'est créé ni modifié si le paiement est refusé. Sans invoice, la facture "
                        "doit exister (404 sinon). Une facture envoyée par MEG n'apparaît dans les listes de Libeo "
                        "qu'avec son premier paiement. Sans execution_date : l'échéance, ou le dernier jour "
                        "ouvré TARGET2 qui la précède (jamais avant le premier jour ouvré possible). "
                        "Idempotent : la même Idempotency-Key rejoue la première réponse réussie "
                        "(en-tête Idempotent-Replayed: true) ; avec un autre corps (facture comprise), 422 ; pendant "
                        "que la première requête s'exécute, 409. Une requête refusée libère la clé."
                    ),
                    "parameters": [
                        _EXTERNAL_ID,
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": True,
                            "description": "Identifiant unique de l'intention de payer (par exemple un UUID).",
                            "schema": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": 255,
                                "pattern": IDEMPOTENCY_KEY_PATTERN,
                            },
                        },
                        _INITIATOR_PARAMETER,
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PaymentInput"}}},
                    },
                    "responses": {
                        "201": {
                            **_json("Payment", "Paiement programmé (ou rejoué)."),
                            "headers": {
                                "Idempotent-Replayed": {
                                    "description": "true quand la réponse est rejouée.",
                                    "schema": {"type": "string", "enum": ["true"]},
                                }
                            },
                        },
                        **_errors(400, 401, 402, 403, 404, 409, 413, 422, 429, 503),
                    },
                }
            },
            "/payment-batches": {
                "post": {
                    "operationId": "payInvoices",
                    "summary": "Paie plusieurs factures en un seul appel (« Payer la sélection »), chacune à part.",
                    "description": (
                        f"Au plus {MAX_BATCH_ITEMS} paiements. Chaque élément porte sa propre clé d'idempotence et le "
                        "corps qu'aurait POST /invoices/{external_id}/payments, et reçoit sa propre réponse, dans "
                        "l'ordre : les éléments s'exécutent l'un après l'autre, chacun dans sa transaction, et le "
                        "refus de l'un (quota atteint, facture déjà payée, date refusée…) n'annule aucun autre. "
                        "Rejouer le lot, ou un élément seul avec sa clé, rejoue les réponses réussies. Le quota "
                        "compte chaque paiement : une formule qui n'en permet plus que deux paie les deux premiers. "
                        "Une liste vide, trop longue ou mal formée est refusée en entier (422) : rien n'est fait. "
                        "Qui demande chaque paiement : son champ initiator, sinon l'en-tête MEG-Initiator du lot "
                        "(un élément sans l'un ni l'autre est refusé dans son résultat, 400 initiator_required)."
                    ),
                    "parameters": [{**_INITIATOR_PARAMETER, "required": False}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PaymentBatchInput"}}},
                    },
                    "responses": {
                        "200": _json("PaymentBatchResult", "Le résultat de chaque paiement demandé."),
                        **_errors(400, 401, 413, 422, 429),
                    },
                }
            },
            "/invoices/{external_id}/document": {
                "put": {
                    "operationId": "putInvoiceDocument",
                    "summary": "Joint à la facture son PDF (10 Mo au plus), montré sur sa page dans Libeo.",
                    "description": (
                        "Le corps est le PDF lui-même (Content-Type: application/pdf), pas du JSON. Il remplace le "
                        "document précédent de la facture. La facture doit exister (PUT /invoices/{external_id} ou "
                        "demande de paiement) : 404 sinon. Un corps vide, ou qui n'est pas un PDF (en-tête %PDF-, "
                        "fin %%EOF), est refusé (422)."
                    ),
                    "parameters": [_EXTERNAL_ID],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/pdf": {
                                "schema": {"type": "string", "format": "binary", "maxLength": MAX_DOCUMENT_BYTES}
                            }
                        },
                    },
                    "responses": {
                        "200": _json("Document", "Document remplacé."),
                        "201": _json("Document", "Document joint."),
                        **_errors(400, 401, 403, 404, 413, 415, 422, 429),
                    },
                }
            },
            "/payments/{payment_id}/receipt.pdf": {
                "get": {
                    "operationId": "getPaymentReceipt",
                    "summary": "L'« Ordre de virement » (PDF) d'un paiement dans un fichier de virements, puis son "
                    "« Justificatif de paiement » une fois débité.",
                    "description": (
                        "Le document dit lequel il est : « Ordre de virement » tant que la banque n'a pas confirmé "
                        "le débit (file_ready, transmitted, accepted), « Justificatif de paiement » ensuite (paid). "
                        "Donneur d'ordre (nom, SIRET, compte débité), bénéficiaire, IBAN masqués avec leur banque, "
                        "montant, date d'exécution, date du débit, référence de bout en bout (EndToEndId) et "
                        "identifiant du fichier SEPA (MsgId), statut, date de génération (heure de Paris). 409 "
                        "(receipt_unavailable) pour un paiement programmé, rejeté ou annulé."
                    ),
                    "parameters": [_PAYMENT_ID],
                    "responses": {
                        "200": {
                            "description": "Le justificatif.",
                            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                        },
                        **_errors(401, 404, 409, 429),
                    },
                }
            },
            "/payments/{payment_id}/cancel": {
                "post": {
                    "operationId": "cancelPayment",
                    "summary": "Annule un paiement programmé ou à approuver, comme « Annuler » dans Libeo.",
                    "description": (
                        "Le virement ne partira pas, la facture redevient à payer et le paiement ne compte plus dans "
                        "le quota du mois. Un paiement déjà annulé est rendu tel quel (200) : redemander après une "
                        "réponse perdue est sans effet. Un paiement dans un fichier de virements, débité ou rejeté "
                        "ne peut plus l'être (409 payment_not_cancellable)."
                    ),
                    "parameters": [_PAYMENT_ID, _INITIATOR_PARAMETER],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CancelInput"}}},
                    },
                    "responses": {
                        "200": _json("Payment", "Le paiement, annulé."),
                        **_errors(400, 401, 403, 404, 409, 422, 429, 503),
                    },
                }
            },
            "/payments/{payment_id}": {
                "get": {
                    "operationId": "getPayment",
                    "summary": "Un paiement du compte et son statut.",
                    "parameters": [_PAYMENT_ID],
                    "responses": {"200": _json("Payment", "Le paiement."), **_errors(401, 404, 429)},
                }
            },
            "/events": {
                "get": {
                    "operationId": "listEvents",
                    "summary": "Les événements du compte (changements d'état des paiements), du plus ancien au plus "
                    "récent.",
                    "description": (
                        "Chaque changement d'état d'un paiement (création, remise à la banque, paiement, rejet, "
                        "annulation) ajoute un événement payment.updated portant le paiement après le changement. "
                        "Lire avec after = le « next » de la réponse précédente ; sans after, depuis le premier "
                        "événement. Un événement n'apparaît jamais après un événement plus récent : relire le flux "
                        "depuis le début rend les mêmes événements, dans le même ordre."
                    ),
                    "parameters": [
                        {
                            "name": "after",
                            "in": "query",
                            "required": False,
                            "description": "Curseur opaque (le « next » d'une réponse) ; absent : depuis le début.",
                            "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "description": "Nombre d'événements au plus (100 par défaut).",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                        },
                    ],
                    "responses": {"200": _json("EventPage", "Les événements suivants."), **_errors(400, 401, 429)},
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "Clé d'API Libeo (lbo_meg_…)."}
            },
            "schemas": {
                "Account": ACCOUNT,
                "VouchInput": VOUCH_BODY,
                "InvoiceInput": INVOICE_BODY,
                "Invoice": INVOICE,
                "PaymentInput": PAYMENT_BODY,
                "Payment": PAYMENT,
                "PaymentBatchInput": BATCH_BODY,
                "PaymentBatchResult": BATCH_RESULT,
                "Document": DOCUMENT,
                "CancelInput": CANCEL_BODY,
                "RetiredKey": RETIRED_KEY,
                "VoidInput": VOID_BODY,
                "VoidOutcome": VOID_OUTCOME,
                "Event": EVENT,
                "EventPage": EVENT_PAGE,
                "Error": ERROR,
            },
        },
    }
