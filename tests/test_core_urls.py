"""The links lists write without a ``url_for`` each: the same links ``url_for`` writes."""


def test_a_rows_links_are_the_links_url_for_builds():
    """``id_url`` builds each row's link by putting its id in one URL built once: the same as ``url_for``."""
    from flask import Flask, url_for

    from core.row_urls import id_url

    app = Flask(__name__)
    app.add_url_rule("/paiements/<int:payment_id>/annuler", "cancel", lambda payment_id: "")
    with app.test_request_context("/paiements/?q=918", base_url="http://localhost/libeo"):
        link = id_url("cancel", "payment_id", next="/libeo/paiements/?q=918")
        for ident in (1, 42, 918273645, 10**12):
            assert link(ident) == url_for("cancel", payment_id=ident, next="/libeo/paiements/?q=918")


def test_a_lists_links_are_the_links_url_for_builds():
    """``list_url`` writes a list's links (tabs, sort, pager, exports) as ``url_for`` would, query included."""
    from flask import Flask, url_for

    from core.listing import list_url

    app = Flask(__name__)
    app.add_url_rule("/paiements/", "payments", lambda: "")
    app.add_url_rule("/paiements/export.<fmt>", "export", lambda fmt: "")
    args = {"q": "Société Générale & fils 100 %", "etat": "payes", "min": "1 234,50", "tri": "-montant",
            "du": "2026-12-01", "odd": "a/b:c?d@e!f$g'h(i)j*k,l;m=n+o#p"}
    with app.test_request_context("/libeo/paiements/", base_url="http://localhost/libeo"):
        for _ in range(2):  # built, then read from the request's cache
            assert list_url("payments", args) == url_for("payments", **args)
            assert list_url("payments", {}) == url_for("payments")
            assert list_url("export", args, fmt="csv") == url_for("export", fmt="csv", **args)
            assert list_url("export", {}, fmt="xlsx") == url_for("export", fmt="xlsx")
