"""labels stage of clausemap."""
