"""MEG's companies, users and roles."""
