"""Point-in-time features between the warehouse and ``domain.features``."""
