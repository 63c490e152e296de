-- Ops people sign in with their own accounts; automation keeps bearer tokens, now named and
-- stored here with a role (HUOMA_ADMIN_TOKENS stay, as admins). An account or token may be
-- limited to regions: it sees and changes only the stores of those regions.

-- A store's region: its own when set, else its city (router.ops.auth.REGION_OF).
ALTER TABLE stores ADD COLUMN IF NOT EXISTS region text NOT NULL DEFAULT '';

CREATE TABLE IF NOT EXISTS accounts (
    id             bigserial PRIMARY KEY,
    username       text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9._@-]{1,64}$'),
    -- argon2id, in the library's own encoded form (parameters and salt included).
    password_hash  text NOT NULL,
    role           text NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    -- Empty: every region.
    regions        text[] NOT NULL DEFAULT '{}',
    disabled       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    password_set_at timestamptz NOT NULL DEFAULT now(),
    last_signin_at timestamptz
);

-- A signed-in browser. The cookie carries a random token; only its SHA-256 is kept here.
CREATE TABLE IF NOT EXISTS sessions (
    token_hash   bytea PRIMARY KEY,
    account_id   bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- Synchronizer token: every change made with this session sends it in X-CSRF-Token.
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    address      text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS sessions_account ON sessions (account_id);

-- Named bearer tokens for automation; only the token's SHA-256 is kept.
CREATE TABLE IF NOT EXISTS api_tokens (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9._@-]{1,64}$'),
    token_hash  bytea NOT NULL UNIQUE,
    role        text NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    regions     text[] NOT NULL DEFAULT '{}',
    created_by  text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);

-- Failed sign-ins, per client address ('ip:...') and per username ('user:...'): each failure
-- doubles the wait before the next attempt (never a lockout); a success clears the account's.
CREATE TABLE IF NOT EXISTS signin_failures (
    key          text PRIMARY KEY,
    failures     integer NOT NULL,
    last_at      timestamptz NOT NULL DEFAULT now(),
    wait_until   timestamptz NOT NULL
);
