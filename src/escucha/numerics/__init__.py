"""escucha.numerics."""

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules
