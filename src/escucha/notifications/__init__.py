"""escucha.notifications."""
