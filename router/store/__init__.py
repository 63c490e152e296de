"""PostgreSQL: pool, migrations, named statements by area, journal flushing, the shared QR image
cache (which also fetches WeCom's code images), the funnel."""
