"""Turnstile and door-control protocols, drivers and emulators."""
