"""escucha.org."""
