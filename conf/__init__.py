"""Installed as the package ``umeval_conf`` so that a wheel carries the presets (see umeval.core.registry.CONF_DIR)."""
