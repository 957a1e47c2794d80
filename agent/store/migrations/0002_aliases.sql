-- What finance taught the engine: a payer's account or name belongs to a customer. Read at each
-- matching run, so the same payer is recognised next time.
CREATE TABLE aliases (
    id          INTEGER PRIMARY KEY,
    company     TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('payer_account', 'payer_name')),
    value       TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    learned_at  TEXT NOT NULL,
    source      TEXT NOT NULL,
    UNIQUE (company, kind, value)
);
