"""escucha.numerics.sim."""
