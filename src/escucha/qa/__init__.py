"""escucha.qa."""
