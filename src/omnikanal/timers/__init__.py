"""Durable timers: work due at a time (reminders, reservation expiry), run by the worker."""
