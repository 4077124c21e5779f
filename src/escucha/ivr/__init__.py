"""escucha.ivr."""
