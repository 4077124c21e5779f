"""escucha.jobs."""
