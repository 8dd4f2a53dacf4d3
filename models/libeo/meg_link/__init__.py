"""« Me connecter avec MEG »: Libeo as a client of MEG's OpenID Connect provider, and MEG vouching."""
