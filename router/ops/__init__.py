"""The ops console API: an aiohttp sub-application at /admin/api."""
