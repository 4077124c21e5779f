"""escucha.contacts."""
