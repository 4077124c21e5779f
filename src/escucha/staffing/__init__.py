"""escucha.staffing."""
