"""Public RCA benchmarks: converters from a dataset's own layout into the embedded store and replay cases,
and `investigate bench` (nezha, petshop)."""
