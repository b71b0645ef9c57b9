"""The pipeline's steps, one module each (`calcifer.http.pipeline` says in what order)."""
