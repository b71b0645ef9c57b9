"""The web console at `/admin/`: server-rendered pages over the services of the admin API."""
