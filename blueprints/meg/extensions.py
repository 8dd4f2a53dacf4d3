"""The MEG app's extension singletons, created once, bound in the factory."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mailman import Mail
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Connectez-vous pour accéder à cette page."
login_manager.login_message_category = "info"

csrf = CSRFProtect()
# The prefix keeps MEG's counts apart from the other product's in a shared Redis
# (same endpoint names, same addresses). Set here, not in the config: this one
# object serves every app built in the process, and Flask-Limiter keeps the first prefix it sees.
limiter = Limiter(key_func=get_remote_address, default_limits=[], key_prefix="meg")

# E-mail through SMTP (core/mail.py): only the notification workers send.
mail = Mail()
