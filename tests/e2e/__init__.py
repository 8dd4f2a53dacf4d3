# A package, so that this folder's conftest is imported as "e2e.conftest" and
# does not replace the top-level "conftest" that other tests import from.
