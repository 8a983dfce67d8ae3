"""Orders: the gate's controls over the account's book, and the life of a bet."""
