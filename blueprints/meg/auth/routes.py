"""Logging in and out of MEG, and « Changer mon mot de passe » (``core.auth``)."""

from functools import partial

from flask import Blueprint

from core.auth import add_session_views, authenticate
from models.meg import User, db

from ..extensions import limiter

bp = Blueprint("auth", __name__)
add_session_views(bp, db=db, limiter=limiter, product="meg", home_endpoint="main.home",
                  authenticate=partial(authenticate, db, User))
