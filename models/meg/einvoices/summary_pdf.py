"""MEG's name for ``core.einvoices.summary_pdf`` (the reader moved to core, Libeo reads with it too): the same
module object, so that imports and patches through either name reach one module."""

import sys

from core.einvoices import summary_pdf

sys.modules[__name__] = summary_pdf
