"""serving stage of clausemap."""
