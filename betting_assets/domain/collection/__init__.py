"""What to fetch when: fetch tiers, the credit budget's collection plan and the sensors'
decisions."""
