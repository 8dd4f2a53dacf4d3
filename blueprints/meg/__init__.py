"""MEG (« Mon Expert en Gestion »): the accounting app, as a Flask app."""
