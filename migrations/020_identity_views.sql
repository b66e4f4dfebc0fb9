-- Identity owns the users, aliases, devices and event-statistics tables: every statement on them is
-- in src/identity/. Segments read them through these views, which identity keeps stable whatever
-- becomes of the tables behind them. Each is a plain projection or join that the planner inlines,
-- so a query on a view costs what the same query on the tables did.

-- What segment filters and membership look-ups read of a profile, with its dense ordinal.
CREATE VIEW identity_user_profiles AS
  SELECT u.workspace_id, u.ordinal, u.id, u.external_id, u.email, u.custom_attributes, u.last_session_at
    FROM users u;

-- Which users carry an alias with a label.
CREATE VIEW identity_alias_labels AS
  SELECT a.workspace_id, a.alias_label, u.ordinal
    FROM user_aliases a JOIN users u ON u.id = a.user_id AND u.workspace_id = a.workspace_id;

-- Per user, event (or product) name and UTC day: how many times.
CREATE VIEW identity_event_days AS
  SELECT u.workspace_id, u.ordinal, s.kind, s.name, s.day, s.count
    FROM user_event_stats s JOIN users u ON u.id = s.user_id;

-- A user's identifiers for exports: aliases as [{alias_name, alias_label}] by label, device ids sorted.
CREATE VIEW identity_user_identifiers AS
  SELECT u.workspace_id, u.ordinal, u.id, u.external_id, al.aliases, dv.device_ids
    FROM users u
    LEFT JOIN LATERAL (SELECT jsonb_agg(jsonb_build_object('alias_name', a.alias_name, 'alias_label', a.alias_label) ORDER BY a.alias_label) AS aliases
                         FROM user_aliases a WHERE a.user_id = u.id) al ON true
    LEFT JOIN LATERAL (SELECT jsonb_agg(d.device_id ORDER BY d.device_id) AS device_ids
                         FROM user_devices d WHERE d.user_id = u.id) dv ON true;
