"""Fast state shared beyond one request: in process by default, by the workers of a machine
when there are several (Redis/Valkey across replicas arrives with the keys issue)."""
