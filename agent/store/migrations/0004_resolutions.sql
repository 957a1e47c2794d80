-- Exception workbooks written to exceptions/: what each one showed (a digest of its cells, since
-- XLSX bytes carry timestamps) and the file's size and time, so it is rewritten only when its
-- content changed or someone replaced the file.
CREATE TABLE exception_workbooks (
    path        TEXT    PRIMARY KEY,
    day         TEXT    NOT NULL,
    company     TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    pending     INTEGER NOT NULL,
    applied     INTEGER NOT NULL,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    written_at  TEXT    NOT NULL
);

-- Workbooks finance dropped into resolutions/. 'processing' until its rows are done and the file
-- is archived; the same bytes dropped again are recorded as a duplicate of the processed one.
CREATE TABLE resolution_files (
    id            INTEGER PRIMARY KEY,
    sha256        TEXT    NOT NULL,
    original_name TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    received_at   TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('processing', 'processed', 'duplicate', 'quarantined')),
    stored_path   TEXT,
    result_path   TEXT,
    reason        TEXT,
    applied       INTEGER NOT NULL DEFAULT 0,
    refused       INTEGER NOT NULL DEFAULT 0,
    duplicate_of  INTEGER REFERENCES resolution_files(id)
);
CREATE UNIQUE INDEX resolution_files_processed_once ON resolution_files(sha256) WHERE status = 'processed';

-- One row per workbook row that changed a line, written in the same transaction as its decision
-- and posting. (line_id, based_on) is the claim: a line's version (the decision the row was
-- written from) is resolved once, whichever file or person tries again.
CREATE TABLE resolutions (
    id          INTEGER PRIMARY KEY,
    file_id     INTEGER NOT NULL REFERENCES resolution_files(id),
    sheet       TEXT    NOT NULL,
    row         INTEGER NOT NULL,
    line_id     INTEGER NOT NULL REFERENCES statement_lines(id),
    based_on    INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    choice      TEXT    NOT NULL,
    decision_id INTEGER NOT NULL REFERENCES decisions(id),
    posting_key TEXT,
    resolved_at TEXT    NOT NULL
);
CREATE UNIQUE INDEX resolutions_once ON resolutions(line_id, based_on);

-- The workbook reads current decisions by kind and day, and each line's latest posting.
CREATE INDEX decisions_current_kind ON decisions(kind) WHERE superseded_by IS NULL;
CREATE INDEX decisions_created ON decisions(created_at);
CREATE INDEX outbox_line ON outbox(line_id);
