"""escucha.numerics."""
