"""escucha.callbacks."""
