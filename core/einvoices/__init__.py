"""Suppliers' e-invoices as both products read them: Factur-X / ZUGFeRD PDFs, CII and UBL XML
(``reading``), and the readable PDF drawn from an XML one (``summary_pdf``)."""
