"""Operations for the demo project: health and readiness probes, Prometheus metrics, request ids and
the log filters. Project-level on purpose: it observes oauthbff and userdata from outside, through
their signals and models, and neither app knows about it."""
