"""Domain types every layer uses and that use no layer: what a scope selects, what a row's state may be."""
