"""The scan hot path, framework-free: no asyncpg, no aiohttp, no router.store."""
