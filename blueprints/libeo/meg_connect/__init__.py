"""« Me connecter avec MEG »: Libeo as an OpenID Connect client of MEG."""

from flask import Blueprint

bp = Blueprint("meg_connect", __name__, url_prefix="/connexion-meg")


@bp.record_once
def _register_client(state) -> None:
    from models.libeo.meg_link.client import init_meg_sign_in

    init_meg_sign_in(state.app)


from . import routes  # noqa: E402,F401
