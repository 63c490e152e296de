-- Who gave a store's coordinates (geo/providers.py): amap, tencent, baidu, gps, wechat, or the
-- plain code as uploaded (wgs84, gcj02, bd09). The provider decides where its shift applies
-- (AMap's GCJ-02 also covers Hong Kong and Macau, a plain gcj02 only the mainland), so the real
-- position is computed from source_lat/source_lng under its rule. Stores uploaded before this
-- named only their system: NULL means that plain code, today's rule, so nothing moves.
ALTER TABLE stores ADD COLUMN IF NOT EXISTS coord_provider text
    CHECK (coord_provider IN ('amap', 'tencent', 'baidu', 'gps', 'wechat', 'wgs84', 'gcj02', 'bd09'));
