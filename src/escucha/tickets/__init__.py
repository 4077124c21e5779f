"""escucha.tickets."""
