"""Presets as TOML, installed as ``pjpart.configs``; see :func:`pjpart.search.load_preset`."""
