-- Files received in the inbox. A statement's bytes are accepted once: the partial unique index
-- claims the sha256, so a second copy under another name is recorded as a duplicate.
CREATE TABLE files (
    id            INTEGER PRIMARY KEY,
    sha256        TEXT    NOT NULL,
    original_name TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    received_at   TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('archived', 'quarantined', 'duplicate')),
    format        TEXT,
    stored_path   TEXT    NOT NULL,
    reason        TEXT,
    line_count    INTEGER NOT NULL DEFAULT 0,
    duplicate_of  INTEGER REFERENCES files(id)
);
CREATE UNIQUE INDEX files_accepted_once ON files(sha256) WHERE status = 'archived';

-- What each statement in a file declared, and whether its balances add up.
CREATE TABLE statements (
    id              INTEGER PRIMARY KEY,
    file_id         INTEGER NOT NULL REFERENCES files(id),
    statement_id    TEXT    NOT NULL,
    account         TEXT    NOT NULL,
    currency        TEXT    NOT NULL,
    period_from     TEXT,
    period_to       TEXT,
    opening_balance TEXT,
    closing_balance TEXT,
    lines_total     TEXT    NOT NULL,
    line_count      INTEGER NOT NULL,
    balance_break   TEXT
);

-- One row per bank transaction, keyed by its stable identity (account, booking date, bank
-- reference, amount, ordinal): the same transaction in a later file is the same row.
CREATE TABLE statement_lines (
    id           INTEGER PRIMARY KEY,
    identity     TEXT    NOT NULL UNIQUE,
    file_id      INTEGER NOT NULL REFERENCES files(id),
    company      TEXT,
    account      TEXT    NOT NULL,
    currency     TEXT    NOT NULL,
    booking_date TEXT    NOT NULL,
    amount       TEXT    NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'decided', 'no_company')),
    seen         INTEGER NOT NULL DEFAULT 1,
    data         TEXT    NOT NULL
);
CREATE INDEX statement_lines_pending ON statement_lines(status, company);

-- The ERP's customers and open items as read for one matching run.
CREATE TABLE snapshots (
    id         INTEGER PRIMARY KEY,
    company    TEXT    NOT NULL,
    taken_at   TEXT    NOT NULL,
    customers  INTEGER NOT NULL,
    open_items INTEGER NOT NULL
);
CREATE TABLE snapshot_customers (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id),
    customer_id TEXT    NOT NULL,
    data        TEXT    NOT NULL,
    PRIMARY KEY (snapshot_id, customer_id)
);
CREATE TABLE snapshot_items (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id),
    document    TEXT    NOT NULL,
    customer_id TEXT    NOT NULL,
    open_amount TEXT    NOT NULL,
    data        TEXT    NOT NULL,
    PRIMARY KEY (snapshot_id, document)
);

-- The engine's decision for a line, with its evidence. One current decision per line.
CREATE TABLE decisions (
    id            INTEGER PRIMARY KEY,
    line_id       INTEGER NOT NULL REFERENCES statement_lines(id),
    snapshot_id   INTEGER REFERENCES snapshots(id),
    company       TEXT    NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('apply', 'suggest', 'unmatched', 'ignore')),
    score         TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    data          TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    superseded_by INTEGER REFERENCES decisions(id)
);
CREATE UNIQUE INDEX decisions_current ON decisions(line_id) WHERE superseded_by IS NULL;

-- Postings for the ERP, written in the same transaction as their decision. The key is the
-- idempotency key that travels in the ERP document; the primary key is its claim.
CREATE TABLE outbox (
    key             TEXT    PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 16),
    company         TEXT    NOT NULL,
    line_id         INTEGER NOT NULL REFERENCES statement_lines(id),
    decision_id     INTEGER NOT NULL REFERENCES decisions(id),
    step            TEXT    NOT NULL DEFAULT 'post',
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'in_flight', 'posted', 'failed')),
    payload         TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    erp_document    TEXT,
    last_error      TEXT,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);

-- Append-only trail: bank line -> rule -> ERP document.
CREATE TABLE audit (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    event       TEXT NOT NULL,
    file_id     INTEGER,
    line_id     INTEGER,
    posting_key TEXT,
    detail      TEXT NOT NULL DEFAULT '{}'
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
