"""Rendering many clips: a jobs file in, one output per job, in one process or on a Ray cluster.

Stages: `jobs` (read and check the jobs file), `staging` (inputs and outputs at fsspec URLs), `worker`
(a `JobRunner` loads the models once and renders jobs one after another, resumably), `local` and
`on_ray` (run the jobs with bounded retries, in order here or spread over Ray actors), `summary` (the
table and JSON at the end).
"""
