"""Work-arounds for broken third-party builds, each installed explicitly."""
