"""PostgreSQL: pool, migrations, named statements, journal flushing, stored QR images."""
