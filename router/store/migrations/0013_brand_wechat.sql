-- Per entry code: optional campaign copy the customer page shows above the store (e.g. a poster's
-- own offer). Empty: none.
ALTER TABLE entries ADD COLUMN IF NOT EXISTS campaign text NOT NULL DEFAULT ''
    CHECK (char_length(campaign) <= 40);

-- The WeChat official account's current access_token and jsapi_ticket, fetched by the one
-- refresher of a deployment (router.keeper.wechat) and read by every worker to sign the page's
-- JS-SDK configuration. One row per AppID; expires_at is WeChat's expires_in from when it was
-- fetched. The secrets never leave the server.
CREATE TABLE IF NOT EXISTS wechat_tickets (
    appid               text PRIMARY KEY,
    access_token        text NOT NULL,
    token_expires_at    timestamptz NOT NULL,
    jsapi_ticket        text NOT NULL,
    ticket_expires_at   timestamptz NOT NULL,
    fetched_at          timestamptz NOT NULL DEFAULT now(),
    last_error          text NOT NULL DEFAULT '',
    last_error_at       timestamptz
);
