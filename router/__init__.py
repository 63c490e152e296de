"""Huoma's aiohttp service: settings, database, catalogue, routing, HTTP handlers and CLI."""
