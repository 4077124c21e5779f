"""escucha.telephony."""
