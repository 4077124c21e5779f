"""escucha.cli."""
