"""Per-worker resources and loops, each its own cleanup context: the database pool, catalogue
reloads, lease refills, event flushing, WeCom's client."""
