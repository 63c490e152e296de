"""The QR images every worker shares."""

from __future__ import annotations

# ---- QR images ---------------------------------------------------------------------------------

GET_QR_IMAGE = "SELECT png FROM qr_images WHERE group_pk = $1 AND qr_version = $2"

PUT_QR_IMAGE = """
INSERT INTO qr_images (group_pk, qr_version, png) VALUES ($1, $2, $3)
ON CONFLICT (group_pk, qr_version) DO NOTHING
"""
