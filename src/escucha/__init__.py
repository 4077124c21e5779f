"""escucha: an open-source contact center that keeps its word."""
