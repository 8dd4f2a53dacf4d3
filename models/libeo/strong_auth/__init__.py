"""Strong authentication of Libeo's users: TOTP, passkeys, recovery codes, and verifications bound to the
operation they confirm (``services``)."""
