"""Electronic invoices (Factur-X, CII, UBL): reading a file, importing it, keeping it with its invoice."""
