"""escucha.auth."""
