"""Promises: business calendars, due times and the state of every commitment to a customer.

``rules`` is pure (standard library only); ``calendars`` builds calendars from configuration
and public holidays.
"""
