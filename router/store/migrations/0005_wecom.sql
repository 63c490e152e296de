-- WeCom (企业微信) join ways: a store given WeCom customer group chats gets one 「加入群聊」
-- configuration over up to five of them; its QR code is shown as the store's group (a groups row
-- with source 'wecom'), and WeCom opens new chats by itself as they fill (auto_create_room).

CREATE TABLE wecom_stores (
    -- The join way's state is "hm" || id: short (WeCom allows 30 characters) and never reused.
    id          bigserial PRIMARY KEY,
    -- No foreign key: a removed store's join way must still be found to delete it in WeCom.
    store_id    text NOT NULL UNIQUE,
    enabled     boolean NOT NULL DEFAULT true,
    config_id   text UNIQUE,
    qr_code     text,
    -- The chat_id_list as last written to WeCom.
    chat_ids    text[] NOT NULL DEFAULT '{}',
    synced_at   timestamptz,
    sync_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE wecom_chats (
    chat_id         text PRIMARY KEY,
    store_id        text NOT NULL,
    position        integer NOT NULL DEFAULT 0,
    member_count    integer CHECK (member_count >= 0),
    member_version  text,
    -- When the count was read from WeCom: an older reading never overwrites a newer one.
    counted_at      timestamptz,
    -- Opened by WeCom itself (auto_create_room) and adopted, rather than given by ops.
    adopted         boolean NOT NULL DEFAULT false,
    dismissed       boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX wecom_chats_store ON wecom_chats (store_id, position, created_at);

-- Every callback accepted, keyed by its signature (which covers timestamp, nonce and message):
-- a delivery WeCom repeats is answered again but processed once.
CREATE TABLE wecom_callbacks (
    signature     text PRIMARY KEY,
    received_at   timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz NOT NULL,
    event         text NOT NULL,
    chat_id       text,
    change_type   text,
    update_detail text,
    message       text NOT NULL,
    processed_at  timestamptz,
    attempts      integer NOT NULL DEFAULT 0,
    error         text
);

CREATE INDEX wecom_callbacks_pending ON wecom_callbacks (received_at) WHERE processed_at IS NULL;

-- Customers who joined a store's WeCom group: the funnel's last step.
CREATE TABLE group_joins (
    chat_id     text NOT NULL,
    -- A keyed hash of the member's WeCom id: counts people, names nobody.
    member      text NOT NULL,
    joined_at   timestamptz NOT NULL,
    store_id    text,
    -- The join way's state the customer came through, and WeCom's join_scene (3: scanned a QR).
    state       text,
    join_scene  smallint,
    -- The entry code of the store's last scan shown a group before the join (attributed).
    entry       text,
    PRIMARY KEY (chat_id, member, joined_at)
);

CREATE INDEX group_joins_at ON group_joins (joined_at);
-- Attributing a join to the entry of the store's last scan before it reads events by group and
-- time; this index serves the lookups by group alone as well.
CREATE INDEX scan_events_group_at ON scan_events (group_id, at);
DROP INDEX scan_events_group;
CREATE INDEX group_joins_store ON group_joins (store_id, joined_at);
