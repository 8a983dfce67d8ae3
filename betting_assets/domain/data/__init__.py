"""Provider payloads to rows, the provider's catalogue, and the data-quality rules."""
