"""training stage of clausemap."""
