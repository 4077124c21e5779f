"""escucha.db."""
