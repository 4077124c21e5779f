"""escucha.routing."""
