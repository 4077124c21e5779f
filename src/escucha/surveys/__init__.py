"""escucha.surveys."""
