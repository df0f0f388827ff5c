"""Department suggestions: the suggester, its evaluation, and `clausemap evaluate-departments`."""
