-- The tables the Supabase sink writes (run once in the project's SQL editor).
-- Names are the defaults (OBS_SUPABASE_ALERTS_TABLE, OBS_SUPABASE_EVENTS_TABLE).
-- The unique keys are the upsert targets: a retried batch rewrites the same rows.

-- One row per alert episode: inserted when it fires, updated when it resolves.
CREATE TABLE IF NOT EXISTS breakfix_alerts (
    fingerprint text NOT NULL,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz,
    alertname text NOT NULL,
    service text NOT NULL,
    severity text NOT NULL,
    status text NOT NULL,          -- firing | resolved
    summary text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    labels jsonb NOT NULL DEFAULT '{}',
    value double precision,
    PRIMARY KEY (fingerprint, starts_at)
);

-- Lab events (ops-db `events`) and chaos events (ops-db `chaos_events`), one row each.
CREATE TABLE IF NOT EXISTS breakfix_events (
    source text NOT NULL,          -- the ops-db table: events | chaos_events
    source_id bigint NOT NULL,     -- its id there
    ts timestamptz NOT NULL,
    kind text NOT NULL,
    service text,                  -- the event's service, or the chaos target
    origin text,                   -- who wrote it (events.source; 'chaos' for chaos events)
    fault_id text,
    correlation_id text,
    message text NOT NULL,
    data jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (source, source_id)
);
