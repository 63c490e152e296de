"""What an upload is reviewed with, from the settings: the plausibility limits, the templates'
example rows, and the confirmation protocol's secret and token lifetime (one place for the admin
API and `huoma import`)."""

from __future__ import annotations

from router.ops.exports import COLUMNS, EXAMPLES
from router.ops.uploads.checks import Checks, Limits
from router.ops.uploads.confirm import Confirm
from router.ops.uploads.geocode import Geocoder
from router.settings import Settings


def limits(settings: Settings) -> Limits:
    return Limits(
        city_radius_m=settings.upload_city_radius_m,
        district_radius_m=settings.upload_district_radius_m,
        area_distance_m=settings.upload_area_distance_m,
        system_mismatch_m=settings.upload_system_mismatch_m,
        stack_min=settings.upload_stack_min,
    )


def checks(settings: Settings) -> Checks:
    """Fresh for each upload (it collects the upload's geocodes)."""
    examples = {kind: dict(zip(COLUMNS[kind], EXAMPLES[kind], strict=True)) for kind in EXAMPLES}
    geocoder = None
    if settings.geocode_provider and settings.geocode_key:
        geocoder = Geocoder(
            settings.geocode_provider,
            settings.geocode_key,
            settings.geocode_url,
            settings.geocode_qps,
            settings.geocode_timeout_s,
        )
    return Checks(
        limits(settings),
        examples,
        geocoder=geocoder,
        geocode_check_rows=settings.geocode_check_rows,
    )


def confirm(settings: Settings, token: str | None) -> Confirm:
    assert settings.secret, "the secret is resolved before uploads are served"
    return Confirm(settings.secret.encode(), settings.upload_confirm_ttl_s, token or None)
