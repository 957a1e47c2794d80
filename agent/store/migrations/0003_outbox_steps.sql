-- Postings the ERP makes in several calls (S/4HANA: journal entry, then clearing): each finished
-- step is kept with the document it made, so after a crash the poster resumes at the step whose
-- outcome is unknown and never repeats a finished one. outbox.step names the step under way.
CREATE TABLE outbox_steps (
    key      TEXT NOT NULL REFERENCES outbox(key),
    step     TEXT NOT NULL,
    document TEXT NOT NULL,
    detail   TEXT NOT NULL DEFAULT '',
    done_at  TEXT NOT NULL,
    PRIMARY KEY (key, step)
);
