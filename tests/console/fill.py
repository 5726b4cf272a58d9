"""History in ops-db for the console's tests and benchmark: incidents (with a timeline,
alerts, actions and their runs), action-server audit rows, and a game day run, written
with set-based INSERTs so thousands take well under a second."""

from sqlalchemy import create_engine, text

HOSTILE_TITLE = "<script>alert('pwned')</script>\u202eevil"


def fill_history(url: str, *, incidents: int, audit_rows: int, prefix: str = "inc") -> None:
    """`incidents` closed incidents (every third escalated, the rest resolved), 8 timeline
    steps, one alert and one restart-api action each (its run in action_runs), and
    `audit_rows` audit rows (every fifth a refusal)."""
    engine = create_engine(url)
    params = {"n": incidents, "a": audit_rows, "p": prefix}
    try:
        with engine.begin() as db:
            db.execute(
                text(
                    "INSERT INTO agent_incidents (id, state, title, service, severity, source,"
                    " alert_count, opened_at, detected_at, diagnosed_at, mitigated_at,"
                    " closed_at, fault, mode, diagnosis, decisions, report)"
                    " SELECT :p || '-' || lpad(g::text, 5, '0'),"
                    " CASE WHEN g % 3 = 0 THEN 'escalated' ELSE 'resolved' END,"
                    " 'TargetDown on target #' || g, 'target', 'critical', 'alertmanager', 2,"
                    " now() - g * interval '1 minute', now() - g * interval '1 minute',"
                    " now() - g * interval '1 minute' + interval '4 seconds',"
                    " now() - g * interval '1 minute' + interval '15 seconds',"
                    " now() - g * interval '1 minute' + interval '20 seconds',"
                    " 'api-crash', 'deterministic',"
                    " jsonb_build_object('hypotheses', jsonb_build_array(jsonb_build_object("
                    "  'fault', 'api-crash', 'confidence', 0.91, 'summary', 'the API is down',"
                    "  'citations', jsonb_build_array(jsonb_build_object('kind', 'runbook',"
                    "  'ref', 'api-crash', 'text', 'restart the API')))),"
                    " 'evidence', jsonb_build_object('features', jsonb_build_object("
                    "  'svc:target:up', false, 'probe:ready:ok_ratio', 0.0),"
                    "  'log_lines', jsonb_build_array('<img src=x onerror=alert(1)> refused'),"
                    "  'trace_ids', jsonb_build_array('4bf92f3577b34da6a3ce929d0e0e4736'))),"
                    " jsonb_build_array(jsonb_build_object('action', 'restart-api',"
                    "  'verdict', 'allowed')),"
                    " '# Incident report' || chr(10) || 'restart-api fixed it'"
                    " FROM generate_series(1, :n) AS g"
                ),
                params,
            )
            db.execute(
                text(
                    "INSERT INTO agent_incident_events (incident_id, at, step, state_from,"
                    " state_to, inputs, outputs)"
                    " SELECT i.id, i.opened_at + s * interval '1 second', 'step-' || s,"
                    " NULL, NULL, '{}'::jsonb, jsonb_build_object('seen', s)"
                    " FROM agent_incidents i CROSS JOIN generate_series(1, 8) AS s"
                    " WHERE i.id LIKE :p || '-%'"
                ),
                params,
            )
            db.execute(
                text(
                    "INSERT INTO action_runs (id, action, params, dry_run, status, summary,"
                    " correlation_id, started_at, finished_at, duration_ms)"
                    " SELECT md5(i.id)::uuid, 'restart-api', '{}'::jsonb, false, 'succeeded',"
                    " 'target restarted, /ready in 1.2 s', i.id, i.opened_at, i.opened_at, 1200"
                    " FROM agent_incidents i WHERE i.id LIKE :p || '-%'"
                ),
                params,
            )
            db.execute(
                text(
                    "INSERT INTO agent_actions (incident_id, step_no, action, target,"
                    " idempotency_key, run_id, status, started_at)"
                    " SELECT i.id, 1, 'restart-api', 'target', i.id || '-1',"
                    " md5(i.id)::uuid::text, 'succeeded', i.opened_at"
                    " FROM agent_incidents i WHERE i.id LIKE :p || '-%'"
                ),
                params,
            )
            db.execute(
                text(
                    "INSERT INTO agent_alerts (fingerprint, starts_at, incident_id, alertname,"
                    " service, severity, status, source, first_received, last_received,"
                    " labels, annotations)"
                    " SELECT md5(i.id), i.detected_at, i.id, 'TargetDown', 'target', 'critical',"
                    " 'resolved', 'alertmanager', i.detected_at, i.detected_at, '{}'::jsonb,"
                    " jsonb_build_object('summary', 'target is down')"
                    " FROM agent_incidents i WHERE i.id LIKE :p || '-%'"
                ),
                params,
            )
            db.execute(
                text(
                    "INSERT INTO audit_log (ts, key_id, method, path, action, params, dry_run,"
                    " outcome, status_code, error_code, duration_ms, correlation_id)"
                    " SELECT now() - g * interval '1 second', 'key-' || (g % 7), 'POST',"
                    " '/actions/restart-api', 'restart-api', '{}'::jsonb, g % 4 = 0,"
                    " CASE WHEN g % 5 = 0 THEN 'refused' ELSE 'ok' END,"
                    " CASE WHEN g % 5 = 0 THEN 409 ELSE 200 END,"
                    " CASE WHEN g % 5 = 0 THEN 'target_busy' END, 20.5, 'corr-' || g"
                    " FROM generate_series(1, :a) AS g"
                ),
                params,
            )
    finally:
        engine.dispose()


def add_incident(url: str, incident_id: str, *, title: str, state: str = "resolved") -> None:
    """One incident with a title of the caller's choosing (e.g. a hostile one)."""
    engine = create_engine(url)
    try:
        with engine.begin() as db:
            db.execute(
                text(
                    "INSERT INTO agent_incidents (id, state, title, service, source, opened_at,"
                    " detected_at, fault, approval)"
                    " VALUES (:id, :state, :title, :title, 'alertmanager', now(), now(),"
                    " 'db-data-loss', CASE WHEN :state = 'awaiting_approval' THEN"
                    " jsonb_build_object('status', 'pending', 'steps', jsonb_build_array("
                    " 'restore-db')) ELSE '{}'::jsonb END)"
                ),
                {"id": incident_id, "title": title, "state": state},
            )
    finally:
        engine.dispose()
