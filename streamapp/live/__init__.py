"""The live layer: the faust worker's word counts, from source records to the views.

`counting` (pure: batch pre-aggregation, the idempotent apply rule, the update wire
format), `writebehind` (pure: rows held between flushes), `topn` (pure: each table
partition's top words), `lineage` (pure: replays vs a new log), `shares` and `peers`
(pure: merging workers' answers, evicting dead members); `agents` (the faust agents
and tables, and `current`, the read-through of live rows), `tablewrite` (bulk table
writes), `standby` (standby copies), `views` (the HTTP views), `peer_watch`. See
docs/live.md.
"""
