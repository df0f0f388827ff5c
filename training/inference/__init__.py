"""How a clause gets its categories at serving time: the typed artifact, the Predictor over it, the pipeline
that adds sentences, evidence and department suggestions (what the service and `clausemap evaluate` run)."""
