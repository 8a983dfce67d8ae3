"""Collection from the odds provider into the warehouse: raw responses first, then what is
derived from them, and the collection plan's settings."""
