"""Per-worker loops, each its own cleanup context: reloads, lease refills, event flushing."""
