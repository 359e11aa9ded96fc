"""One HTTP client per provider (Oxen, LTX) over a shared request chokepoint."""
