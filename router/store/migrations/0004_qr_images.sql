-- Rendered group QR images, shared by every worker and kept across restarts: a code is rendered
-- once per deployment and version (rendering is milliseconds of pure-Python work per image).
CREATE TABLE qr_images (
    group_pk    bigint NOT NULL,
    qr_version  integer NOT NULL,
    png         bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_pk, qr_version)
);
