"""Camera sources and synthetic scenes."""
