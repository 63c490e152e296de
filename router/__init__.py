"""Huoma, the store-group router: one package per flow (see ARCHITECTURE.md). Deliberately empty:
it runs on every import of the hot path, which must stay free of aiohttp and asyncpg."""
