"""Domain events written in the same transaction as the change, then delivered."""
