"""The sync engine: turns claimed PENDING order lines into groups, items and subitems on a board."""
