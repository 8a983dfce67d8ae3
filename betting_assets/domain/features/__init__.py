"""Point-in-time features and team ratings, from data known before the decision."""
