"""Development tooling: what runs beside the products on a developer's machine, never in production."""
