"""ICAO Doc 9303: MRZ, LDS, BAC, secure messaging, passive and active authentication."""
