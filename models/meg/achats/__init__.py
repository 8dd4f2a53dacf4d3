"""« Achats »: suppliers, supplier invoices and how they are settled."""
