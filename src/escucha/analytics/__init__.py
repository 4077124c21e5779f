"""escucha.analytics."""
