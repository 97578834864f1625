"""``egate simulate``: travellers from a scenario file through the gate and its emulators."""
