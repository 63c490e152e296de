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

-- All stores' print sheets at once, made in the background (router.keeper.print_jobs): asked for
-- by an ops request, claimed by one worker, rendered in a separate process, downloaded when done.
CREATE TABLE IF NOT EXISTS print_jobs (
    id            bigserial PRIMARY KEY,
    size          text NOT NULL CHECK (size IN ('a6', 'a5')),
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'running', 'done', 'failed')),
    requested_by  text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    pages         integer,
    error         text NOT NULL DEFAULT '',
    pdf           bytea
);
