"""Names of the canonical event columns every loaded source is mapped to."""

USER = "user_id"
TS = "ts"
EVENT = "event"
SESSION = "session_id"
STAGE_MASK = "stage_mask"  # bit i set: the row matches stage i
SOURCE = "_source"  # index of the file a row came from
LINE = "_line"  # 1-based line (row + header) inside that file
ROW = "_row"  # index of an event row in the frame the facts were computed from
