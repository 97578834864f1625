"""Chip transports (PC/SC, vpcd, in-process) and the virtual ePassport."""
